// Deformable sampling (../deform-sample.ts's rule, mmcv's deformable_im2col) and its two gradients
// in WGSL: the columns one invocation per element, the input gradient one per element of dcols
// adding into dx atomically (samples of neighbouring pixels share corners), the offset gradient one
// per offset channel with the dot products over the group's channels.
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { DeformSampleAttrs } from '../deform-sample.js';
import { program, run, type Uniform } from './program.js';

/** Sample of tap t of output pixel p in group gi: corners' pixel indices (-1 outside) and (ly, lx). */
const SAMPLE = `
struct Sample { ok : bool, corners : vec4<i32>, ly : f32, lx : f32 };
fn sampleAt(p : i32, gi : i32, t : i32) -> Sample {
  var s : Sample;
  let K = uniforms.kernel;
  let KK = K * K;
  let Ho = uniforms.offsetShape[1];
  let Wo = uniforms.offsetShape[2];
  let b = p / (Ho * Wo);
  let oy = (p / Wo) % Ho;
  let ox = p % Wo;
  let o = p * 2 * uniforms.groups * KK + (gi * KK + t) * 2;
  let y = f32(oy * uniforms.stride - uniforms.padding + (t / K) * uniforms.dilation) + Offset[o];
  let x = f32(ox * uniforms.stride - uniforms.padding + (t % K) * uniforms.dilation) + Offset[o + 1];
  let H = uniforms.height;
  let W = uniforms.width;
  s.ok = y > -1.0 && x > -1.0 && y < f32(H) && x < f32(W);
  if (!s.ok) { return s; }
  let y0 = i32(floor(y));
  let x0 = i32(floor(x));
  s.ly = y - f32(y0);
  s.lx = x - f32(x0);
  for (var corner = 0; corner < 4; corner++) {
    let cy = y0 + (corner >> 1u);
    let cx = x0 + (corner & 1);
    s.corners[corner] = select(-1, (b * H + cy) * W + cx, cy >= 0 && cy < H && cx >= 0 && cx < W);
  }
  return s;
}
// Element index of the columns [N, Ho, Wo, k² C] -> its channel and the sample it reads.
fn columnChannel(index : i32) -> i32 { return index % uniforms.channels; }
fn columnSample(index : i32) -> Sample {
  let C = uniforms.channels;
  let KK = uniforms.kernel * uniforms.kernel;
  return sampleAt(index / (C * KK), (index % C) / (C / uniforms.groups), (index / C) % KK);
}
fn cornerWeights(s : Sample) -> vec4<f32> {
  return vec4<f32>((1.0 - s.ly) * (1.0 - s.lx), (1.0 - s.ly) * s.lx, s.ly * (1.0 - s.lx), s.ly * s.lx);
}
`;

const UNIFORMS = 'kernel : i32, stride : i32, padding : i32, dilation : i32, groups : i32, height : i32, width : i32, channels : i32,';

function uniformsOf(a: DeformSampleAttrs, inputShape: readonly number[]): Uniform[] {
  return [a.kernel, a.stride, a.padding, a.dilation, a.deformGroups, inputShape[1]!, inputShape[2]!, inputShape[3]!].map((v) => ({ type: 'int32' as const, data: [v] }));
}

const size = (shape: readonly number[]): number => shape.reduce((x, y) => x * y, 1);

/** x [N, H, W, C], offset -> columns [N, Ho, Wo, k² C]. */
const forward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, offset } = inputs as { x: TensorInfo; offset: TensorInfo };
  const a = attrs as unknown as DeformSampleAttrs;
  const [n, , , c] = x.shape as [number, number, number, number];
  const [, ho, wo] = offset.shape as [number, number, number, number];
  const kk = a.kernel * a.kernel;
  const p = program({
    key: 'smDeformSample',
    outputShape: [n, ho, wo, kk * c],
    inputs: ['X', 'Offset'],
    uniforms: UNIFORMS,
    code: `
${SAMPLE}
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let C = uniforms.channels;
  let c = columnChannel(index);
  let s = columnSample(index);
  var acc = 0.0;
  if (s.ok) {
    let w = cornerWeights(s);
    for (var corner = 0; corner < 4; corner++) {
      if (s.corners[corner] >= 0) { acc += w[corner] * X[s.corners[corner] * C + c]; }
    }
  }
  setOutputAtIndex(index, acc);
}`,
  });
  return run(backend as KernelBackend, p, [x, offset], size(p.outputShape), uniformsOf(a, x.shape));
};

/** dcols, offset -> dx (attrs carry inputShape). */
const inputGradient: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dcols, offset } = inputs as { dcols: TensorInfo; offset: TensorInfo };
  const a = attrs as unknown as DeformSampleAttrs & { inputShape: number[] };
  const p = program({
    key: 'smDeformSampleInputGrad',
    outputShape: a.inputShape,
    dispatchShape: dcols.shape,
    inputs: ['Dcols', 'Offset'],
    uniforms: UNIFORMS,
    atomic: true,
    code: `
${SAMPLE}
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let C = uniforms.channels;
  let c = columnChannel(index);
  let s = columnSample(index);
  if (!s.ok) { return; }
  let w = cornerWeights(s);
  let d = Dcols[index];
  for (var corner = 0; corner < 4; corner++) {
    if (s.corners[corner] >= 0) { atomicAddF32(s.corners[corner] * C + c, w[corner] * d); }
  }
}`,
  });
  return run(backend as KernelBackend, p, [dcols, offset], size(dcols.shape), uniformsOf(a, a.inputShape));
};

/** dcols, x, offset -> doffset. */
const offsetGradient: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dcols, x, offset } = inputs as { dcols: TensorInfo; x: TensorInfo; offset: TensorInfo };
  const a = attrs as unknown as DeformSampleAttrs;
  const p = program({
    key: 'smDeformSampleOffsetGrad',
    outputShape: [...offset.shape],
    inputs: ['Dcols', 'X', 'Offset'],
    uniforms: UNIFORMS,
    code: `
${SAMPLE}
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let C = uniforms.channels;
  let G = uniforms.groups;
  let KK = uniforms.kernel * uniforms.kernel;
  let cg = C / G;
  let axis = index % 2;
  let t = (index / 2) % KK;
  let gi = (index / (2 * KK)) % G;
  let p = index / (2 * KK * G);
  let s = sampleAt(p, gi, t);
  var grad = 0.0;
  if (s.ok) {
    // d(weight of each corner) / d(y) and / d(x)
    let wy = vec4<f32>(-(1.0 - s.lx), -s.lx, 1.0 - s.lx, s.lx);
    let wx = vec4<f32>(-(1.0 - s.ly), 1.0 - s.ly, -s.ly, s.ly);
    let dw = select(wx, wy, axis == 0);
    let src = (p * KK + t) * C + gi * cg;
    for (var corner = 0; corner < 4; corner++) {
      if (s.corners[corner] < 0) { continue; }
      let base = s.corners[corner] * C + gi * cg;
      var dot = 0.0;
      for (var ci = 0; ci < cg; ci++) { dot += Dcols[src + ci] * X[base + ci]; }
      grad += dw[corner] * dot;
    }
  }
  setOutputAtIndex(index, grad);
}`,
  });
  return run(backend as KernelBackend, p, [dcols, x, offset], size(offset.shape), uniformsOf(a, x.shape));
};

export const deformSampleWebGpu = { forward, inputGradient, offsetGradient };
