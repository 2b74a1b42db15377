// RoIAlign (He et al., Mask R-CNN) as a tfjs kernel with its gradient, for every backend: mmcv's
// roi_align (aligned=True, average pooling, sampling_ratio 0 = adaptive ceil(roi_size / output)),
// over several feature levels at once, each RoI from its own (torchvision's MultiScaleRoIAlign):
// the pooled rows come out in RoI order, so an FPN head needs no gather to put them back (on wasm
// that gather and its scatter gradient over [1024, 7, 7, 256] took ~0.8 s of a 2.4 s Faster R-CNN
// step, a cascade's three stages ~2.4 s).
// tfjs's cropAndResize has no gradient at all, and a composite of gathers would materialise
// [RoIs x bins x samples x 4 corners x C] floats; these loops read each sample's four corners once
// per channel and scatter the gradient back the same way. Plain loops over host copies (readSync,
// write), like UnsortedSegmentSum: the op moves memory, it hardly computes.
import * as tf from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, type KernelBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

export const ROI_ALIGN = 'SmRoiAlign';
export const ROI_ALIGN_GRAD = 'SmRoiAlignGrad';

export interface RoiAlignAttrs {
  /** Output side (7 for the FPN R-CNN heads, 14 for the C4 head). */
  outputSize: number;
  /** Samples per bin side; 0 = adaptive, ceil(roi side / outputSize) (mmcv, mmdetection's default). */
  samplingRatio: number;
  /** Feature cells per input pixel (1 / stride). */
  spatialScale: number;
  /** Pixel model of mmcv's aligned=True (sample at x * scale - 0.5). */
  aligned: boolean;
}

/** RoIAlign over feature levels: `spatialScales[l]` is level l's feature cells per input pixel. */
export interface RoiAlignLevelsAttrs {
  outputSize: number;
  samplingRatio: number;
  spatialScales: number[];
  aligned: boolean;
}

/**
 * For every (RoI, bin): the feature offsets (pixel index n*H*W + y*W + x, times C later) and bilinear
 * weights (already divided by the sample count) of every sample corner. One plan serves the forward
 * and the backward pass.
 */
interface Plan {
  /** binStart[b]..binStart[b+1] index `offsets`/`weights` for bin b = r * size² + i * size + j. */
  binStart: Int32Array;
  offsets: Int32Array;
  weights: Float32Array;
}

/**
 * One coordinate of a bilinear sample (mmcv's rules): the two neighbouring cells and the weight of
 * the upper one; undefined beyond one cell past the map. libs/native-kernels's roi_align.cc has the same.
 */
function axisSample(v: number, size: number): { lo: number; hi: number; frac: number } | undefined {
  if (v < -1 || v > size) return undefined;
  if (v <= 0) v = 0;
  const lo = Math.floor(v);
  if (lo >= size - 1) return { lo: size - 1, hi: size - 1, frac: 0 };
  return { lo, hi: lo + 1, frac: v - lo };
}

/** Offsets index the RoI's own level's map; a RoI of a level outside `shapes` pools nothing. */
function plan(rois: Float32Array | Int32Array | Uint8Array, levels: ArrayLike<number>, numRois: number, shapes: readonly number[][], a: RoiAlignLevelsAttrs): Plan {
  const size = a.outputSize;
  const bins = numRois * size * size;
  const binStart = new Int32Array(bins + 1);
  let offsets = new Int32Array(Math.max(16, bins * 16));
  let weights = new Float32Array(offsets.length);
  let k = 0;
  const push = (off: number, w: number): void => {
    if (k === offsets.length) {
      const o = new Int32Array(k * 2);
      o.set(offsets);
      offsets = o;
      const ww = new Float32Array(k * 2);
      ww.set(weights);
      weights = ww;
    }
    offsets[k] = off;
    weights[k++] = w;
  };
  const shift = a.aligned ? 0.5 : 0;
  let bin = 0;
  for (let r = 0; r < numRois; r++) {
    const n = rois[5 * r]!;
    const level = levels[r]!;
    const shape = shapes[level];
    const [batch, height, width] = shape ?? [0, 0, 0];
    const scale = a.spatialScales[level] ?? 0;
    const x1 = rois[5 * r + 1]! * scale - shift;
    const y1 = rois[5 * r + 2]! * scale - shift;
    let rw = rois[5 * r + 3]! * scale - shift - x1;
    let rh = rois[5 * r + 4]! * scale - shift - y1;
    if (!a.aligned) {
      rw = Math.max(rw, 1);
      rh = Math.max(rh, 1);
    }
    const bw = rw / size;
    const bh = rh / size;
    const gh = a.samplingRatio > 0 ? a.samplingRatio : Math.max(1, Math.ceil(rh / size));
    const gw = a.samplingRatio > 0 ? a.samplingRatio : Math.max(1, Math.ceil(rw / size));
    const inv = 1 / (gh * gw);
    const valid = shape !== undefined && Number.isInteger(n) && n >= 0 && n < batch!;
    const base = n * height! * width!;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        binStart[bin++] = k;
        if (!valid) continue;
        for (let iy = 0; iy < gh; iy++) {
          const y = axisSample(y1 + i * bh + ((iy + 0.5) * bh) / gh, height!);
          if (!y) continue;
          const hy = 1 - y.frac;
          for (let ix = 0; ix < gw; ix++) {
            const x = axisSample(x1 + j * bw + ((ix + 0.5) * bw) / gw, width!);
            if (!x) continue;
            const hx = 1 - x.frac;
            push(base + y.lo * width! + x.lo, hy * hx * inv);
            push(base + y.lo * width! + x.hi, hy * x.frac * inv);
            push(base + y.hi * width! + x.lo, y.frac * hx * inv);
            push(base + y.hi * width! + x.hi, y.frac * x.frac * inv);
          }
        }
      }
    }
  }
  binStart[bin] = k;
  return { binStart, offsets, weights };
}

function attrsOf(attrs: unknown): RoiAlignLevelsAttrs {
  const a = attrs as RoiAlignLevelsAttrs;
  return { outputSize: a.outputSize, samplingRatio: a.samplingRatio, spatialScales: a.spatialScales, aligned: a.aligned };
}

/** The kernel's inputs: [rois [R, 5], levels int32 [R], the maps [N, H, W, C] finest first]. */
export function roiAlignInputs(inputs: unknown): { rois: TensorInfo; levels: TensorInfo; maps: TensorInfo[] } {
  const [rois, levels, ...maps] = Object.values(inputs as Record<string, TensorInfo>);
  return { rois: rois!, levels: levels!, maps };
}

/** rois [R, 5] (batch index, x1, y1, x2, y2 in input pixels), levels, maps -> [R, size, size, C]. */
const roiAlignKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { rois, levels, maps } = roiAlignInputs(inputs);
  const a = attrsOf(attrs);
  const c = maps[0]!.shape[3]!;
  const r = rois.shape[0]!;
  const xs = maps.map((m) => backend.readSync(m.dataId) as Float32Array);
  const lv = backend.readSync(levels.dataId) as Int32Array;
  const p = plan(backend.readSync(rois.dataId) as Float32Array, lv, r, maps.map((m) => m.shape), a);
  const size2 = a.outputSize * a.outputSize;
  const out = new Float32Array(r * size2 * c);
  for (let bin = 0; bin < r * size2; bin++) {
    const o = bin * c;
    const x = xs[lv[Math.floor(bin / size2)]!];
    for (let k = p.binStart[bin]!; k < p.binStart[bin + 1]!; k++) {
      const wt = p.weights[k]!;
      if (wt === 0) continue;
      const src = p.offsets[k]! * c;
      for (let ch = 0; ch < c; ch++) out[o + ch]! += wt * x![src + ch]!;
    }
  }
  const shape = [r, a.outputSize, a.outputSize, c];
  return { dataId: backend.write(out, shape, 'float32'), shape, dtype: 'float32' };
};

/**
 * dy [R, size, size, C], rois, levels -> dx [N, H, W, C] of level `level` (attrs carry it and every
 * level's inputShapes). One call per level: a tfjs gradient closure may return only its own input's
 * tensor, and each call visits only its level's RoIs.
 */
const roiAlignGradKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { dy, rois, levels } = inputs as { dy: TensorInfo; rois: TensorInfo; levels: TensorInfo };
  const a = attrsOf(attrs);
  const { inputShapes, level } = attrs as unknown as { inputShapes: number[][]; level: number };
  const shape = inputShapes[level]!;
  const c = dy.shape[3]!;
  const r = rois.shape[0]!;
  const dys = backend.readSync(dy.dataId) as Float32Array;
  const all = backend.readSync(levels.dataId) as Int32Array;
  // the other levels' RoIs planned as outside every level: no samples
  const lv = all.map((l) => (l === level ? l : -1));
  const p = plan(backend.readSync(rois.dataId) as Float32Array, lv, r, inputShapes, a);
  const dx = new Float32Array(shape[0]! * shape[1]! * shape[2]! * c);
  const bins = r * a.outputSize * a.outputSize;
  for (let bin = 0; bin < bins; bin++) {
    const o = bin * c;
    for (let k = p.binStart[bin]!; k < p.binStart[bin + 1]!; k++) {
      const wt = p.weights[k]!;
      if (wt === 0) continue;
      const dst = p.offsets[k]! * c;
      for (let ch = 0; ch < c; ch++) dx[dst + ch]! += wt * dys[o + ch]!;
    }
  }
  return { dataId: backend.write(dx, shape, 'float32'), shape, dtype: 'float32' };
};

let gradientRegistered = false;

/** Registers both kernels for `backendName` (idempotent) and the gradient (once, backend-independent). */
export function registerRoiAlign(backendName: string): void {
  if (!getKernel(ROI_ALIGN, backendName)) {
    registerKernel({ kernelName: ROI_ALIGN, backendName, kernelFunc: roiAlignKernel });
    registerKernel({ kernelName: ROI_ALIGN_GRAD, backendName, kernelFunc: roiAlignGradKernel });
  }
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: ROI_ALIGN,
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const [rois, levels, ...maps] = saved as tf.Tensor[];
      const inputShapes = maps.map((m) => m.shape);
      return {
        // Proposals are constants of the loss (mmdetection and torchvision detach them).
        0: () => tf.zerosLike(rois!),
        1: () => tf.zerosLike(levels!),
        ...Object.fromEntries(maps.map((_, level) => [level + 2, () =>
          tf.engine().runKernel(ROI_ALIGN_GRAD, { dy: dy as tf.Tensor, rois: rois!, levels: levels! }, { ...(attrs as object), inputShapes, level } as never) as tf.Tensor])),
      };
    },
  });
}

/**
 * RoIAlign of `rois` [R, 5] = (batch index, x1, y1, x2, y2) in input pixels, RoI i from
 * `maps[levels[i]]` [N, H, W, C] at `spatialScales[levels[i]]`: [R, outputSize, outputSize, C] in RoI
 * order, differentiable with respect to every map. A level outside the maps pools zeros.
 */
export function roiAlignLevels(maps: readonly tf.Tensor4D[], rois: tf.Tensor2D, levels: Int32Array, attrs: RoiAlignLevelsAttrs): tf.Tensor4D {
  registerRoiAlign(tf.getBackend());
  if (rois.rank !== 2 || rois.shape[1] !== 5) throw new RangeError(`roiAlign: rois must be [R, 5], got [${rois.shape.join(', ')}]`);
  if (levels.length !== rois.shape[0]) throw new RangeError(`roiAlign: ${levels.length} levels for ${rois.shape[0]} RoIs`);
  if (maps.length === 0 || maps.length !== attrs.spatialScales.length) throw new RangeError(`roiAlign: ${maps.length} maps, ${attrs.spatialScales.length} scales`);
  const [n, , , c] = maps[0]!.shape;
  for (const m of maps) {
    if (m.shape[0] !== n || m.shape[3] !== c) throw new RangeError(`roiAlign: every map must be [${n}, H, W, ${c}], got [${m.shape.join(', ')}]`);
  }
  const inputs = [rois, tf.tensor1d(levels, 'int32'), ...maps];
  return tf.engine().runKernel(ROI_ALIGN, inputs as never, { ...attrs, spatialScales: [...attrs.spatialScales] } as never) as tf.Tensor4D;
}

/**
 * RoIAlign of `rois` [R, 5] = (batch index, x1, y1, x2, y2) in input pixels over `x` [N, H, W, C]
 * at `spatialScale`: [R, outputSize, outputSize, C], differentiable with respect to `x`.
 */
export function roiAlign(x: tf.Tensor4D, rois: tf.Tensor2D, attrs: RoiAlignAttrs): tf.Tensor4D {
  const { spatialScale, ...rest } = attrs;
  return roiAlignLevels([x], rois, new Int32Array(rois.rank === 2 ? rois.shape[0] : 0), { ...rest, spatialScales: [spatialScale] });
}
