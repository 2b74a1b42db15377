// Deformable im2col and its gradients on the wasm heap through @sm-nas/native-kernels (deform.cc): the JS
// kernel's sample rule (./deform-sample.ts) with the channel loops vectorised and both cores. The JS
// kernel stays the one of every other backend and the fallback without the addon.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { DEFORM_ARGS, DeformArg, type NativeKernels } from '@sm-nas/native-kernels';
import { DEFORM_SAMPLE, DEFORM_SAMPLE_INPUT_GRAD, DEFORM_SAMPLE_OFFSET_GRAD, type DeformSampleAttrs } from './deform-sample.js';
import { floatOffset, type WasmBackend } from './wasm-heap.js';

function args(backend: WasmBackend, inputShape: number[], t: { x?: TensorInfo; offset: TensorInfo; cols: TensorInfo; dx?: TensorInfo; doffset?: TensorInfo }, a: DeformSampleAttrs): Float64Array {
  const out = new Float64Array(DEFORM_ARGS);
  out[DeformArg.X] = t.x ? floatOffset(backend, t.x) : 0;
  out[DeformArg.OFFSET] = floatOffset(backend, t.offset);
  out[DeformArg.COLS] = floatOffset(backend, t.cols);
  out[DeformArg.DX] = t.dx ? floatOffset(backend, t.dx) : 0;
  out[DeformArg.DOFFSET] = t.doffset ? floatOffset(backend, t.doffset) : 0;
  const [n, h, w, c] = inputShape;
  const [, ho, wo] = t.offset.shape;
  out.set([n!, h!, w!, c!, ho!, wo!, a.kernel, a.stride, a.padding, a.dilation, a.deformGroups], DeformArg.N);
  return out;
}

/** The three kernels, or none when the loaded addon predates them (a build from older sources). */
export function deformSampleKernelFuncs(dnn: NativeKernels): Record<string, KernelFunc> {
  if (![dnn.deformSampleForward, dnn.deformSampleInputGrad, dnn.deformSampleOffsetGrad].every((f) => typeof f === 'function')) return {};
  const forward: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { x, offset } = inputs as { x: TensorInfo; offset: TensorInfo };
    const a = attrs as unknown as DeformSampleAttrs;
    const [n, , , c] = x.shape;
    const [, ho, wo] = offset.shape;
    const cols = backend.makeOutput([n!, ho!, wo!, a.kernel * a.kernel * c!], 'float32');
    // The heap is read after the output exists: a non-shared wasm memory is a new buffer after it grows.
    dnn.deformSampleForward(backend.wasm.HEAPU8, args(backend, x.shape, { x, offset, cols }, a));
    return cols;
  };
  const inputGrad: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { dcols, offset } = inputs as { dcols: TensorInfo; offset: TensorInfo };
    const a = attrs as unknown as DeformSampleAttrs & { inputShape: number[] };
    const dx = backend.makeOutput([...a.inputShape], 'float32');
    dnn.deformSampleInputGrad(backend.wasm.HEAPU8, args(backend, a.inputShape, { offset, cols: dcols, dx }, a));
    return dx;
  };
  const offsetGrad: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { dcols, x, offset } = inputs as { dcols: TensorInfo; x: TensorInfo; offset: TensorInfo };
    const a = attrs as unknown as DeformSampleAttrs;
    const doffset = backend.makeOutput([...offset.shape], 'float32');
    dnn.deformSampleOffsetGrad(backend.wasm.HEAPU8, args(backend, x.shape, { x, offset, cols: dcols, doffset }, a));
    return doffset;
  };
  return { [DEFORM_SAMPLE]: forward, [DEFORM_SAMPLE_INPUT_GRAD]: inputGrad, [DEFORM_SAMPLE_OFFSET_GRAD]: offsetGrad };
}
