// The optimiser's kernels on the wasm heap through @sm-nas/native-kernels (optim.cc): the JS kernels' rule
// (./optimizer.ts), vectorised, large tensors over both cores. The JS kernels stay the ones of every
// other backend and the fallback without the addon.
import { util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { ADAMW_ARGS, AdamWArg, SquaredNormArg, type NativeKernels } from '@sm-nas/native-kernels';
import { ADAMW_STEP, SQUARED_NORM, type AdamWStepAttrs } from './optimizer.js';
import { floatOffset, type WasmBackend } from './wasm-heap.js';

/** The two kernels, or none when the loaded addon predates them (a build from older sources). */
export function optimizerKernelFuncs(dnn: NativeKernels): Record<string, KernelFunc> {
  if (typeof dnn.adamwStep !== 'function' || typeof dnn.squaredNorm !== 'function') return {};
  const adamw: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { param, m, v, grad } = inputs as Record<'param' | 'm' | 'v' | 'grad', TensorInfo>;
    const a = attrs as unknown as AdamWStepAttrs;
    const outs = [0, 1, 2].map(() => backend.makeOutput([...param!.shape], 'float32'));
    const args = new Float64Array(ADAMW_ARGS);
    [param!, m!, v!, grad!, ...outs].forEach((t, i) => (args[AdamWArg.P + i] = floatOffset(backend, t)));
    args[AdamWArg.SIZE] = util.sizeFromShape(param!.shape);
    args.set([a.lr, a.beta1, a.beta2, a.epsilon, a.weightDecay, a.gradScale, a.bc1, a.bc2], AdamWArg.LR);
    // The heap is read after the outputs exist: a non-shared wasm memory is a new buffer after it grows.
    dnn.adamwStep(backend.wasm.HEAPU8, args);
    return outs;
  };
  const squaredNorm: KernelFunc = ({ inputs, backend: b }) => {
    const backend = b as unknown as WasmBackend;
    const list = Object.values(inputs) as TensorInfo[];
    const out = backend.makeOutput([], 'float32');
    const args = new Float64Array(SquaredNormArg.LIST + 2 * list.length);
    args[SquaredNormArg.OUT] = floatOffset(backend, out);
    args[SquaredNormArg.COUNT] = list.length;
    list.forEach((t, i) => args.set([floatOffset(backend, t), util.sizeFromShape(t.shape)], SquaredNormArg.LIST + 2 * i));
    dnn.squaredNorm(backend.wasm.HEAPU8, args);
    return out;
  };
  return { [ADAMW_STEP]: adamw, [SQUARED_NORM]: squaredNorm };
}
