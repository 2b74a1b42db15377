// RoIAlign and its gradient on the wasm heap through @sm-nas/native-kernels (roi_align.cc): the JS kernel's
// sample points and weights (./roi-align.ts), every level in one call, with the channel loop
// vectorised and both cores. The JS kernel stays the one of every other backend and the fallback
// without the addon.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { ROI_ALIGN_LEVEL_ARGS, ROI_ALIGN_MAX_LEVELS, RoiAlignArg, RoiAlignLevelArg, type NativeKernels } from '@sm-nas/native-kernels';
import { ROI_ALIGN, ROI_ALIGN_GRAD, roiAlignInputs, type RoiAlignLevelsAttrs } from './roi-align.js';
import { floatOffset, type WasmBackend } from './wasm-heap.js';

/** `maps`: per level, the map (forward) or its gradient (backward; none: not computed) and its [N, H, W, C]. */
function args(backend: WasmBackend, rois: TensorInfo, levels: TensorInfo, pooled: TensorInfo, maps: Array<{ t: TensorInfo | undefined; shape: number[] }>, a: RoiAlignLevelsAttrs): Float64Array {
  if (maps.length > ROI_ALIGN_MAX_LEVELS) throw new RangeError(`roiAlign: at most ${ROI_ALIGN_MAX_LEVELS} levels on wasm, got ${maps.length}`);
  const out = new Float64Array(RoiAlignArg.LEVEL0 + ROI_ALIGN_LEVEL_ARGS * maps.length);
  out[RoiAlignArg.ROIS] = floatOffset(backend, rois);
  out[RoiAlignArg.LEVELS] = floatOffset(backend, levels);
  out[RoiAlignArg.POOLED] = floatOffset(backend, pooled);
  const [n, , , c] = maps[0]!.shape;
  out.set([n!, c!, rois.shape[0]!, a.outputSize, a.samplingRatio, a.aligned ? 1 : 0, maps.length], RoiAlignArg.N);
  maps.forEach((m, l) => {
    const base = RoiAlignArg.LEVEL0 + ROI_ALIGN_LEVEL_ARGS * l;
    out[base + RoiAlignLevelArg.MAP] = m.t === undefined ? -1 : floatOffset(backend, m.t);
    out[base + RoiAlignLevelArg.H] = m.shape[1]!;
    out[base + RoiAlignLevelArg.W] = m.shape[2]!;
    out[base + RoiAlignLevelArg.SCALE] = a.spatialScales[l]!;
  });
  return out;
}

/** The two kernels, or none when the loaded addon predates them (a build from older sources). */
export function roiAlignKernelFuncs(dnn: NativeKernels): Record<string, KernelFunc> {
  if (typeof dnn.roiAlignForward !== 'function' || typeof dnn.roiAlignBackward !== 'function') return {};
  const forward: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { rois, levels, maps } = roiAlignInputs(inputs);
    const a = attrs as unknown as RoiAlignLevelsAttrs;
    const y = backend.makeOutput([rois.shape[0]!, a.outputSize, a.outputSize, maps[0]!.shape[3]!], 'float32');
    // The heap is read after the output exists: a non-shared wasm memory is a new buffer after it grows.
    dnn.roiAlignForward(backend.wasm.HEAPU8, args(backend, rois, levels, y, maps.map((t) => ({ t, shape: t.shape })), a));
    return y;
  };
  const backward: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackend;
    const { dy, rois, levels } = inputs as { dy: TensorInfo; rois: TensorInfo; levels: TensorInfo };
    const a = attrs as unknown as RoiAlignLevelsAttrs & { inputShapes: number[][]; level: number };
    const dx = backend.makeOutput([...a.inputShapes[a.level]!], 'float32');
    // only this level's map: the others are -1 (not computed)
    dnn.roiAlignBackward(backend.wasm.HEAPU8, args(backend, rois, levels, dy, a.inputShapes.map((shape, l) => ({ t: l === a.level ? dx : undefined, shape })), a));
    return dx;
  };
  return { [ROI_ALIGN]: forward, [ROI_ALIGN_GRAD]: backward };
}
