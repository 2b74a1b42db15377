// The normalisation kernels that run @sm-nas/native-kernels's training-mode group / batch norm in place on
// the wasm heap (one pass for the statistics, one for the output; the gradient likewise).
// Registered with the native convolutions; ../norm.ts decides when to call them.
import { util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  NORM_BACKWARD_ARGS, NORM_FORWARD_ARGS, NormBackwardArg, NormForwardArg,
  STANDARDIZE_BACKWARD_ARGS, STANDARDIZE_FORWARD_ARGS, StandardizeBackwardArg, StandardizeForwardArg, type NativeKernels,
} from '@sm-nas/native-kernels';
import { floatOffset, type WasmBackend } from './wasm-heap.js';

/** Kernel: inputs x [n, h, w, c], scale [c], offset [c]; outputs y, mean, variance ([groups] or [n, groups]). */
export const NORM_KERNEL = 'SmNasNorm';
/** Kernel: inputs dy, x, y, scale, mean, variance (the forward's); outputs dx, dscale, doffset. */
export const NORM_GRAD_KERNEL = 'SmNasNormGrad';

/** Kernel: input w [..., o]; outputs y (standardised per last-axis column), mean [o], std [o]. */
export const STANDARDIZE_KERNEL = 'SmNasWeightStandardize';
/** Kernel: inputs dy, w, mean, std (the forward's); output dw. */
export const STANDARDIZE_GRAD_KERNEL = 'SmNasWeightStandardizeGrad';

export interface StandardizeAttrs {
  /** Added to the standard deviation (mmcv ConvWS: 1e-5). */
  epsilon: number;
}

export interface NormAttrs {
  /** Channel groups with their own statistics: c for batch norm. */
  groups: number;
  /** Statistics over the whole batch (batch norm) or per sample (group norm). */
  acrossBatch: boolean;
  epsilon: number;
  /** ReLU fused into the output. */
  relu: boolean;
}

/** [N, P, C, G] of the addon's view of x. */
function view(x: TensorInfo, attrs: NormAttrs): [number, number, number, number] {
  const c = x.shape[x.shape.length - 1]!;
  const n = x.shape[0]!;
  const p = util.sizeFromShape(x.shape) / (n * c);
  return attrs.acrossBatch ? [1, n * p, c, attrs.groups] : [n, p, c, attrs.groups];
}

export function normKernelFuncs(dnn: NativeKernels): Record<string, KernelFunc> {
  const forward: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { x, scale, offset } = inputs as Record<string, TensorInfo>;
    const a = attrs as unknown as NormAttrs;
    const [n, p, c, g] = view(x!, a);
    const y = backend.makeOutput([...x!.shape], 'float32');
    const statShape = a.acrossBatch ? [g] : [n, g];
    const mean = backend.makeOutput(statShape, 'float32');
    const variance = backend.makeOutput(statShape, 'float32');
    const args = new Float64Array(NORM_FORWARD_ARGS);
    args[NormForwardArg.X] = floatOffset(backend, x!);
    args[NormForwardArg.SCALE] = floatOffset(backend, scale!);
    args[NormForwardArg.OFFSET] = floatOffset(backend, offset!);
    args[NormForwardArg.Y] = floatOffset(backend, y);
    args[NormForwardArg.MEAN] = floatOffset(backend, mean);
    args[NormForwardArg.VARIANCE] = floatOffset(backend, variance);
    args.set([n, p, c, g, a.epsilon, a.relu ? 1 : 0], NormForwardArg.N);
    // The heap is read after the outputs exist: a non-shared wasm memory is a new buffer after it grows.
    dnn.normForward(backend.wasm.HEAPU8, args);
    return [y, mean, variance];
  };

  const backward: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { dy, x, y, scale, mean, variance } = inputs as Record<string, TensorInfo>;
    const a = attrs as unknown as NormAttrs;
    const [n, p, c, g] = view(x!, a);
    const dx = backend.makeOutput([...x!.shape], 'float32');
    const dscale = backend.makeOutput([c], 'float32');
    const doffset = backend.makeOutput([c], 'float32');
    const args = new Float64Array(NORM_BACKWARD_ARGS);
    args[NormBackwardArg.DY] = floatOffset(backend, dy!);
    args[NormBackwardArg.X] = floatOffset(backend, x!);
    args[NormBackwardArg.Y] = a.relu ? floatOffset(backend, y!) : -1;
    args[NormBackwardArg.SCALE] = floatOffset(backend, scale!);
    args[NormBackwardArg.MEAN] = floatOffset(backend, mean!);
    args[NormBackwardArg.VARIANCE] = floatOffset(backend, variance!);
    args[NormBackwardArg.DX] = floatOffset(backend, dx);
    args[NormBackwardArg.DSCALE] = floatOffset(backend, dscale);
    args[NormBackwardArg.DOFFSET] = floatOffset(backend, doffset);
    args.set([n, p, c, g, a.epsilon], NormBackwardArg.N);
    dnn.normBackward(backend.wasm.HEAPU8, args);
    return [dx, dscale, doffset];
  };

  const standardize: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { w } = inputs as Record<string, TensorInfo>;
    const o = w!.shape[w!.shape.length - 1]!;
    const y = backend.makeOutput([...w!.shape], 'float32');
    const mean = backend.makeOutput([o], 'float32');
    const std = backend.makeOutput([o], 'float32');
    const args = new Float64Array(STANDARDIZE_FORWARD_ARGS);
    args[StandardizeForwardArg.W] = floatOffset(backend, w!);
    args[StandardizeForwardArg.Y] = floatOffset(backend, y);
    args[StandardizeForwardArg.MEAN] = floatOffset(backend, mean);
    args[StandardizeForwardArg.STD] = floatOffset(backend, std);
    args.set([util.sizeFromShape(w!.shape) / o, o, (attrs as unknown as StandardizeAttrs).epsilon], StandardizeForwardArg.K);
    dnn.standardizeForward(backend.wasm.HEAPU8, args);
    return [y, mean, std];
  };

  const standardizeGrad: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { dy, w, mean, std } = inputs as Record<string, TensorInfo>;
    const o = w!.shape[w!.shape.length - 1]!;
    const dw = backend.makeOutput([...w!.shape], 'float32');
    const args = new Float64Array(STANDARDIZE_BACKWARD_ARGS);
    args[StandardizeBackwardArg.DY] = floatOffset(backend, dy!);
    args[StandardizeBackwardArg.W] = floatOffset(backend, w!);
    args[StandardizeBackwardArg.MEAN] = floatOffset(backend, mean!);
    args[StandardizeBackwardArg.STD] = floatOffset(backend, std!);
    args[StandardizeBackwardArg.DW] = floatOffset(backend, dw);
    args.set([util.sizeFromShape(w!.shape) / o, o, (attrs as unknown as StandardizeAttrs).epsilon], StandardizeBackwardArg.K);
    dnn.standardizeBackward(backend.wasm.HEAPU8, args);
    return dw;
  };

  return { [NORM_KERNEL]: forward, [NORM_GRAD_KERNEL]: backward, [STANDARDIZE_KERNEL]: standardize, [STANDARDIZE_GRAD_KERNEL]: standardizeGrad };
}
