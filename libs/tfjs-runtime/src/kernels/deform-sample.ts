// The sampling half of a deformable convolution (Dai et al. 2017; mmcv DeformConv2d's
// deformable_im2col) as a tfjs kernel with its gradient, for every backend: each output pixel reads
// the input bilinearly at its k x k kernel positions moved by learned offsets, into columns
// [N, Ho, Wo, k² * C] in the filter's row order (ky, kx, c), so the convolution is one matmul after
// it. A composite of gathers materialised four [samples x C] copies and their scatter gradients (at
// P2 of a 512x512 input, 12 s of a 15 s GA-RPN inference); these loops read each corner once per
// channel. Plain loops over host copies, like ./roi-align.ts; libs/native-kernels has the wasm version.
import * as tf from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, type KernelBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

export const DEFORM_SAMPLE = 'SmDeformSample';
export const DEFORM_SAMPLE_INPUT_GRAD = 'SmDeformSampleInputGrad';
export const DEFORM_SAMPLE_OFFSET_GRAD = 'SmDeformSampleOffsetGrad';

export interface DeformSampleAttrs {
  kernel: number;
  stride: number;
  padding: number;
  dilation: number;
  deformGroups: number;
}

interface Geometry extends DeformSampleAttrs {
  n: number;
  h: number;
  w: number;
  c: number;
  ho: number;
  wo: number;
}

function geometryOf(x: TensorInfo, offset: TensorInfo, attrs: unknown): Geometry {
  const a = attrs as DeformSampleAttrs;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [, ho, wo] = offset.shape as [number, number, number, number];
  return { n, h, w, c, ho, wo, kernel: a.kernel, stride: a.stride, padding: a.padding, dilation: a.dilation, deformGroups: a.deformGroups };
}

/**
 * The sample of tap t of output pixel p in group gi (mmcv's deformable_im2col_bilinear): corner
 * pixel indices in `corners` (-1 outside the map), fractions in `frac` = [ly, lx]; false when the
 * sample lies outside (-1, H) x (-1, W) and reads 0.
 */
function sampleAt(g: Geometry, off: Float32Array, p: number, gi: number, t: number, corners: Int32Array, frac: Float32Array): boolean {
  const kk = g.kernel * g.kernel;
  const b = Math.floor(p / (g.ho * g.wo));
  const oy = Math.floor(p / g.wo) % g.ho;
  const ox = p % g.wo;
  const o = p * 2 * g.deformGroups * kk + (gi * kk + t) * 2;
  // float32 like the native kernel, so both take the same side at a coordinate near an integer
  const y = Math.fround(oy * g.stride - g.padding + Math.floor(t / g.kernel) * g.dilation + off[o]!);
  const x = Math.fround(ox * g.stride - g.padding + (t % g.kernel) * g.dilation + off[o + 1]!);
  if (!(y > -1 && x > -1 && y < g.h && x < g.w)) return false;
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  frac[0] = y - y0;
  frac[1] = x - x0;
  for (let corner = 0; corner < 4; corner++) {
    const cy = y0 + (corner >> 1);
    const cx = x0 + (corner & 1);
    corners[corner] = cy >= 0 && cy < g.h && cx >= 0 && cx < g.w ? (b * g.h + cy) * g.w + cx : -1;
  }
  return true;
}

/** Bilinear weights of the corners (y0,x0), (y0,x1), (y1,x0), (y1,x1). */
function weightsOf(frac: Float32Array, wt: Float32Array): void {
  const [ly, lx] = [frac[0]!, frac[1]!];
  wt[0] = (1 - ly) * (1 - lx);
  wt[1] = (1 - ly) * lx;
  wt[2] = ly * (1 - lx);
  wt[3] = ly * lx;
}

/** Visits every sample that reads the map (in pixel, group, tap order) with its corners, weights and fractions. */
function forEachSample(g: Geometry, off: Float32Array, visit: (p: number, gi: number, t: number, corners: Int32Array, wt: Float32Array, frac: Float32Array) => void): void {
  const kk = g.kernel * g.kernel;
  const corners = new Int32Array(4);
  const frac = new Float32Array(2);
  const wt = new Float32Array(4);
  for (let p = 0; p < g.n * g.ho * g.wo; p++) {
    for (let gi = 0; gi < g.deformGroups; gi++) {
      for (let t = 0; t < kk; t++) {
        if (!sampleAt(g, off, p, gi, t, corners, frac)) continue;
        weightsOf(frac, wt);
        visit(p, gi, t, corners, wt, frac);
      }
    }
  }
}

function checkShapes(g: Geometry, offsetChannels: number): void {
  const kk = g.kernel * g.kernel;
  if (offsetChannels !== 2 * g.deformGroups * kk || g.c % g.deformGroups !== 0) {
    throw new RangeError(`deformSample: ${offsetChannels} offset channels for ${g.deformGroups} groups of a ${g.kernel}x${g.kernel} kernel over ${g.c} channels`);
  }
}

/** x [N, H, W, C], offset [N, Ho, Wo, 2 * G * k²] -> columns [N, Ho, Wo, k² * C]. */
const deformSampleKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { x, offset } = inputs as { x: TensorInfo; offset: TensorInfo };
  const g = geometryOf(x, offset, attrs);
  const kk = g.kernel * g.kernel;
  const cg = g.c / g.deformGroups;
  const xs = backend.readSync(x.dataId) as Float32Array;
  const cols = new Float32Array(g.n * g.ho * g.wo * kk * g.c);
  forEachSample(g, backend.readSync(offset.dataId) as Float32Array, (p, gi, t, corners, wt) => {
    const dst = (p * kk + t) * g.c + gi * cg;
    for (let corner = 0; corner < 4; corner++) {
      if (corners[corner]! < 0) continue;
      const w = wt[corner]!;
      const src = corners[corner]! * g.c + gi * cg;
      for (let ci = 0; ci < cg; ci++) cols[dst + ci]! += w * xs[src + ci]!;
    }
  });
  const shape = [g.n, g.ho, g.wo, kk * g.c];
  return { dataId: backend.write(cols, shape, 'float32'), shape, dtype: 'float32' };
};

/** dcols, offset -> dx (attrs carry inputShape): the scatter of the forward's gather. */
const inputGradKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { dcols, offset } = inputs as { dcols: TensorInfo; offset: TensorInfo };
  const shape = (attrs as unknown as { inputShape: number[] }).inputShape;
  const g = geometryOf({ shape } as TensorInfo, offset, attrs);
  const kk = g.kernel * g.kernel;
  const cg = g.c / g.deformGroups;
  const d = backend.readSync(dcols.dataId) as Float32Array;
  const dx = new Float32Array(g.n * g.h * g.w * g.c);
  forEachSample(g, backend.readSync(offset.dataId) as Float32Array, (p, gi, t, corners, wt) => {
    const src = (p * kk + t) * g.c + gi * cg;
    for (let corner = 0; corner < 4; corner++) {
      if (corners[corner]! < 0) continue;
      const dst = corners[corner]! * g.c + gi * cg;
      const w = wt[corner]!;
      for (let ci = 0; ci < cg; ci++) dx[dst + ci]! += w * d[src + ci]!;
    }
  });
  return { dataId: backend.write(dx, shape, 'float32'), shape, dtype: 'float32' };
};

/** dcols, x, offset -> doffset: each corner weight's derivative in y and x times <dcols, corner>. */
const offsetGradKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { dcols, x, offset } = inputs as { dcols: TensorInfo; x: TensorInfo; offset: TensorInfo };
  const g = geometryOf(x, offset, attrs);
  const kk = g.kernel * g.kernel;
  const cg = g.c / g.deformGroups;
  const xs = backend.readSync(x.dataId) as Float32Array;
  const d = backend.readSync(dcols.dataId) as Float32Array;
  const off = backend.readSync(offset.dataId) as Float32Array;
  const doff = new Float32Array(off.length);
  forEachSample(g, off, (p, gi, t, corners, _wt, frac) => {
    const [ly, lx] = [frac[0]!, frac[1]!];
    const wy = [-(1 - lx), -lx, 1 - lx, lx];
    const wx = [-(1 - ly), 1 - ly, -ly, ly];
    const src = (p * kk + t) * g.c + gi * cg;
    let gy = 0;
    let gx = 0;
    for (let corner = 0; corner < 4; corner++) {
      if (corners[corner]! < 0) continue;
      const base = corners[corner]! * g.c + gi * cg;
      let dot = 0;
      for (let ci = 0; ci < cg; ci++) dot += d[src + ci]! * xs[base + ci]!;
      gy += wy[corner]! * dot;
      gx += wx[corner]! * dot;
    }
    const o = p * 2 * g.deformGroups * kk + (gi * kk + t) * 2;
    doff[o] = gy;
    doff[o + 1] = gx;
  });
  return { dataId: backend.write(doff, offset.shape, 'float32'), shape: offset.shape, dtype: 'float32' };
};

let gradientRegistered = false;

/** Registers both kernels for `backendName` (idempotent) and the gradient (once, backend-independent). */
export function registerDeformSample(backendName: string): void {
  if (!getKernel(DEFORM_SAMPLE, backendName)) {
    registerKernel({ kernelName: DEFORM_SAMPLE, backendName, kernelFunc: deformSampleKernel });
    registerKernel({ kernelName: DEFORM_SAMPLE_INPUT_GRAD, backendName, kernelFunc: inputGradKernel });
    registerKernel({ kernelName: DEFORM_SAMPLE_OFFSET_GRAD, backendName, kernelFunc: offsetGradKernel });
  }
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: DEFORM_SAMPLE,
    inputsToSave: ['x', 'offset'],
    gradFunc: (dy, saved, attrs) => {
      const [x, offset] = saved as [tf.Tensor, tf.Tensor];
      const run = (kernel: string, inputs: Record<string, tf.Tensor>) => tf.engine().runKernel(kernel, inputs, { ...(attrs as object), inputShape: x.shape } as never) as tf.Tensor;
      return {
        x: () => run(DEFORM_SAMPLE_INPUT_GRAD, { dcols: dy as tf.Tensor, offset }),
        offset: () => run(DEFORM_SAMPLE_OFFSET_GRAD, { dcols: dy as tf.Tensor, x, offset }),
      };
    },
  });
}

/**
 * Deformable im2col of `x` [N, H, W, C] at the k x k kernel positions moved by `offset`
 * [N, Ho, Wo, 2 * G * k²] (mmcv's channel order: (g * k² + t) * 2 + {0: dy, 1: dx}): columns
 * [N, Ho, Wo, k² * C] ordered (ky, kx, c), differentiable with respect to both inputs.
 */
export function deformSample(x: tf.Tensor4D, offset: tf.Tensor4D, attrs: DeformSampleAttrs): tf.Tensor4D {
  registerDeformSample(tf.getBackend());
  const g = geometryOf(x, offset, attrs);
  checkShapes(g, offset.shape[3]);
  if (offset.shape[0] !== g.n) throw new RangeError(`deformSample: ${offset.shape[0]} offset images for ${g.n} inputs`);
  return tf.engine().runKernel(DEFORM_SAMPLE, { x, offset }, { ...attrs } as never) as tf.Tensor4D;
}
