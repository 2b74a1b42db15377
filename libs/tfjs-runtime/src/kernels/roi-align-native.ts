// RoIAlign and its gradient on the wasm heap through @sm-nas/onednn (roi_align.cc): the JS kernel's
// sample points and weights (./roi-align.ts), with the channel loop vectorised and both cores. The JS
// kernel stays the one of every other backend and the fallback without the addon.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { ROI_ALIGN_ARGS, RoiAlignArg, type OneDnn } from '@sm-nas/onednn';
import { ROI_ALIGN, ROI_ALIGN_GRAD, type RoiAlignAttrs } from './roi-align.js';
import { floatOffset, type WasmBackend } from './wasm-heap.js';

function args(backend: WasmBackend, input: TensorInfo, rois: TensorInfo, output: TensorInfo, nhwc: number[], a: RoiAlignAttrs): Float64Array {
  const out = new Float64Array(ROI_ALIGN_ARGS);
  out[RoiAlignArg.X] = floatOffset(backend, input);
  out[RoiAlignArg.ROIS] = floatOffset(backend, rois);
  out[RoiAlignArg.Y] = floatOffset(backend, output);
  out.set([...nhwc, rois.shape[0]!, a.outputSize, a.samplingRatio, a.spatialScale, a.aligned ? 1 : 0], RoiAlignArg.N);
  return out;
}

/** The two kernels, or none when the loaded addon predates them (a build from older sources). */
export function roiAlignKernelFuncs(dnn: OneDnn): Record<string, KernelFunc> {
  if (typeof dnn.roiAlignForward !== 'function' || typeof dnn.roiAlignBackward !== 'function') return {};
  const forward: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { x, rois } = inputs as { x: TensorInfo; rois: TensorInfo };
    const a = attrs as unknown as RoiAlignAttrs;
    const y = backend.makeOutput([rois.shape[0]!, a.outputSize, a.outputSize, x.shape[3]!], 'float32');
    // The heap is read after the output exists: a non-shared wasm memory is a new buffer after it grows.
    dnn.roiAlignForward(backend.wasm.HEAPU8, args(backend, x, rois, y, x.shape, a));
    return y;
  };
  const backward: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { dy, rois } = inputs as { dy: TensorInfo; rois: TensorInfo };
    const a = attrs as unknown as RoiAlignAttrs & { inputShape: number[] };
    const dx = backend.makeOutput([...a.inputShape], 'float32');
    dnn.roiAlignBackward(backend.wasm.HEAPU8, args(backend, dy, rois, dx, a.inputShape, a));
    return dx;
  };
  return { [ROI_ALIGN]: forward, [ROI_ALIGN_GRAD]: backward };
}
