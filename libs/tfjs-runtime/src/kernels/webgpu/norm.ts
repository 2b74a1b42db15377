// Training-mode group / batch norm (fused ReLU optional) and weight standardisation in WGSL, with
// their gradients: the kernels ../norm-native.ts runs on wasm, with the same inputs, outputs and
// rules (biased variance for the norms, the unbiased std for standardisation), so ../../norm.ts calls
// them on webgpu as it does there. Composed from tfjs ops, a group norm is ~10 kernels each way and
// a GN+WS detector step thousands of dispatches; here each statistic is one workgroup's reduction
// (two passes: the mean, then the squared deviations) and each elementwise pass one kernel.
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { NormAttrs, StandardizeAttrs } from '../norm-native.js';
import { program, run, type Uniform, type WebGPUBackend } from './program.js';

const LANES = 256;

/**
 * A program with one workgroup per statistic s: its lanes stride over the statistic's `length`
 * elements e, sum what `term` gives for each (a vec2: two sums at once) across the workgroup, and
 * `finish` writes row s of the [count, 2] output from `sums`.
 */
function reduction(key: string, count: number, inputs: string[], uniforms: string, helpers: string, length: string, term: string, finish: string): WebGPUProgram {
  return {
    outputShape: [count, 2],
    shaderKey: key,
    dispatchLayout: { x: [0] },
    dispatch: [count, 1, 1],
    variableNames: inputs,
    uniforms: `count : i32, ${uniforms}`,
    workgroupSize: [LANES, 1, 1],
    getUserCode: () => `
var<workgroup> partial : array<vec2<f32>, ${LANES}>;
${helpers}
fn workgroupSum(v : vec2<f32>) -> vec2<f32> {
  partial[localIndex] = v;
  workgroupBarrier();
  for (var half = ${LANES / 2}u; half > 0u; half = half / 2u) {
    if (localIndex < half) { partial[localIndex] += partial[localIndex + half]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}
fn main(index : i32) {
  let s = index / ${LANES};
  let lane = i32(localIndex);
  let inBounds = s < uniforms.count;
  var acc = vec2<f32>(0.0);
  // Every input bound, used or not by the terms: the pipeline's automatic layout drops a binding
  // the shader never reads, and tfjs binds them all.
  if (uniforms.count < 0) { acc.x += ${inputs.map((n) => `f32(${n}[0])`).join(' + ')}; }
  if (inBounds) {
    for (var e = lane; e < ${length}; e += ${LANES}) { acc += ${term}; }
  }
  let sums = workgroupSum(acc);
  if (inBounds && lane == 0) { ${finish} }
}`,
  } as unknown as WebGPUProgram;
}

/** Column `k` of a [rows, 2] tensor, as `shape`. */
function column(backend: KernelBackend, t: TensorInfo, k: 0 | 1, shape: number[]): TensorInfo {
  const p = program({ key: `smNormColumn${k}`, outputShape: shape, inputs: ['T'], code: `
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  setOutputAtIndex(index, T[index * 2 + ${k}]);
}` });
  return run(backend, p, [t], shape.reduce((a, b) => a * b, 1));
}

function dispose(backend: KernelBackend, ...ts: TensorInfo[]): void {
  for (const t of ts) (backend as unknown as WebGPUBackend).disposeData(t.dataId);
}

/** x viewed as [N, P, C] with G groups; statistic s = n * G + g covers P x C/G elements. */
function geometry(x: TensorInfo, a: NormAttrs): { n: number; p: number; c: number; g: number; uniforms: Uniform[] } {
  const c = x.shape[x.shape.length - 1]!;
  const batch = x.shape[0]!;
  const pixels = x.shape.reduce((s, d) => s * d, 1) / (batch * c);
  const [n, p] = a.acrossBatch ? [1, batch * pixels] : [batch, pixels];
  const g = a.groups;
  return { n, p, c, g, uniforms: [n, p, c, g].map((v) => ({ type: 'int32' as const, data: [v] })) };
}

const GEOMETRY = 'n : i32, p : i32, c : i32, g : i32,';
/** The element index of element e of statistic s, and the statistic and channel of an element. */
const GROUP_HELPERS = `
fn groupSize() -> i32 { return uniforms.p * (uniforms.c / uniforms.g); }
fn groupIndex(s : i32, e : i32) -> i32 {
  let cg = uniforms.c / uniforms.g;
  let n = s / uniforms.g;
  let g = s % uniforms.g;
  return (n * uniforms.p + e / cg) * uniforms.c + g * cg + e % cg;
}
fn statOf(i : i32) -> i32 {
  let c = i % uniforms.c;
  let n = i / (uniforms.p * uniforms.c);
  return n * uniforms.g + c / (uniforms.c / uniforms.g);
}`;

const normForward: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as KernelBackend;
  const { x, scale, offset } = inputs as Record<'x' | 'scale' | 'offset', TensorInfo>;
  const a = attrs as unknown as NormAttrs;
  const geo = geometry(x, a);
  const stats = geo.n * geo.g;
  const data = [{ type: 'int32', data: [stats] }, ...geo.uniforms, { type: 'float32', data: [a.epsilon] }];
  const gw = b as unknown as WebGPUBackend;
  // Pass 1: the means; pass 2: the variances about them (one pass of sums of squares loses
  // precision on large activations).
  const means = gw.runWebGPUProgram(reduction('smNormMean', stats, ['X'], `${GEOMETRY} epsilon : f32,`, GROUP_HELPERS, 'groupSize()',
    'vec2<f32>(X[groupIndex(s, e)], 0.0)', 'setOutputAtIndex(s * 2, sums.x / f32(groupSize())); setOutputAtIndex(s * 2 + 1, 0.0);'), [x], 'float32', data);
  const moments = gw.runWebGPUProgram(reduction('smNormVar', stats, ['X', 'M'], `${GEOMETRY} epsilon : f32,`, GROUP_HELPERS, 'groupSize()',
    'vec2<f32>(0.0, (X[groupIndex(s, e)] - M[s * 2]) * (X[groupIndex(s, e)] - M[s * 2]))',
    'setOutputAtIndex(s * 2, M[s * 2]); setOutputAtIndex(s * 2 + 1, sums.y / f32(groupSize()));'), [x, means], 'float32', data);
  const y = run(b, program({
    key: `smNormApply_${a.relu}`, outputShape: [...x.shape], inputs: ['X', 'S', 'Scale', 'Offset'], uniforms: `${GEOMETRY} epsilon : f32,`,
    code: `${GROUP_HELPERS}
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let s = statOf(index);
  let c = index % uniforms.c;
  let v = Scale[c] * (X[index] - S[s * 2]) / sqrt(S[s * 2 + 1] + uniforms.epsilon) + Offset[c];
  setOutputAtIndex(index, ${a.relu ? 'max(v, 0.0)' : 'v'});
}`,
  }), [x, moments, scale, offset], x.shape.reduce((s, d) => s * d, 1), [...geo.uniforms, { type: 'float32', data: [a.epsilon] }]);
  const statShape = a.acrossBatch ? [geo.g] : [geo.n, geo.g];
  const mean = column(b, moments, 0, statShape);
  const variance = column(b, moments, 1, statShape);
  dispose(b, means, moments);
  return [y, mean, variance];
};

const normBackward: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as KernelBackend;
  const { dy, x, y, scale, mean, variance } = inputs as Record<'dy' | 'x' | 'y' | 'scale' | 'mean' | 'variance', TensorInfo>;
  const a = attrs as unknown as NormAttrs;
  const geo = geometry(x, a);
  const stats = geo.n * geo.g;
  const size = x.shape.reduce((s, d) => s * d, 1);
  const gw = b as unknown as WebGPUBackend;
  const common = `${GROUP_HELPERS}
fn rstd(s : i32) -> f32 { return 1.0 / sqrt(Variance[s] + uniforms.epsilon); }
fn xhat(i : i32, s : i32) -> f32 { return (X[i] - Mean[s]) * rstd(s); }
// dy through the fused ReLU (y > 0), then through the affine scale: the gradient of x-hat.
fn dmasked(i : i32) -> f32 { return ${a.relu ? 'select(0.0, Dy[i], Y[i] > 0.0)' : 'Dy[i]'}; }
fn dxhatSums(i : i32, s : i32) -> vec2<f32> {
  let d = dmasked(i) * Scale[i % uniforms.c];
  return vec2<f32>(d, d * xhat(i, s));
}`;
  // y only for the ReLU's mask: an input a shader never reads must not be bound.
  const names = ['Dy', 'X', ...(a.relu ? ['Y'] : []), 'Scale', 'Mean', 'Variance'];
  const ins = [dy, x, ...(a.relu ? [y] : []), scale, mean, variance];
  const data = [{ type: 'int32', data: [stats] }, ...geo.uniforms, { type: 'float32', data: [a.epsilon] }];
  // Per statistic: sum of d(x-hat) and of d(x-hat) * x-hat.
  const sums = gw.runWebGPUProgram(reduction(`smNormGradSums_${a.relu}`, stats, names, `${GEOMETRY} epsilon : f32,`, common, 'groupSize()',
    'dxhatSums(groupIndex(s, e), s)',
    'setOutputAtIndex(s * 2, sums.x); setOutputAtIndex(s * 2 + 1, sums.y);'), ins, 'float32', data);
  const dx = run(b, program({
    key: `smNormGradX_${a.relu}`, outputShape: [...x.shape], inputs: [...names, 'Sums'], uniforms: `${GEOMETRY} epsilon : f32,`,
    code: `${common}
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let s = statOf(index);
  let m = f32(groupSize());
  let dxhat = dmasked(index) * Scale[index % uniforms.c];
  setOutputAtIndex(index, rstd(s) * (dxhat - Sums[s * 2] / m - xhat(index, s) * Sums[s * 2 + 1] / m));
}`,
  }), [...ins, sums], size, [...geo.uniforms, { type: 'float32', data: [a.epsilon] }]);
  // Per channel, over every sample and pixel: d(scale) = sum of dmasked * x-hat, d(offset) = sum of dmasked.
  const perChannel = gw.runWebGPUProgram(reduction(`smNormGradAffine_${a.relu}`, geo.c, names, `${GEOMETRY} epsilon : f32,`, common, 'uniforms.n * uniforms.p',
    'vec2<f32>(dmasked(e * uniforms.c + s) * xhat(e * uniforms.c + s, statOf(e * uniforms.c + s)), dmasked(e * uniforms.c + s))',
    'setOutputAtIndex(s * 2, sums.x); setOutputAtIndex(s * 2 + 1, sums.y);'), ins, 'float32', [{ type: 'int32', data: [geo.c] }, ...geo.uniforms, { type: 'float32', data: [a.epsilon] }]);
  const dscale = column(b, perChannel, 0, [geo.c]);
  const doffset = column(b, perChannel, 1, [geo.c]);
  dispose(b, sums, perChannel);
  return [dx, dscale, doffset];
};

/** w viewed as [K, O]: column o's K elements. */
const COLUMN_HELPERS = `
fn columnIndex(s : i32, e : i32) -> i32 { return e * uniforms.o + s; }`;

function columns(w: TensorInfo): { k: number; o: number; size: number; uniforms: Uniform[] } {
  const o = w.shape[w.shape.length - 1]!;
  const size = w.shape.reduce((s, d) => s * d, 1);
  return { k: size / o, o, size, uniforms: [{ type: 'int32', data: [size / o] }, { type: 'int32', data: [o] }] };
}

const standardize: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as KernelBackend;
  const { w } = inputs as { w: TensorInfo };
  const { epsilon } = attrs as unknown as StandardizeAttrs;
  const col = columns(w);
  const gw = b as unknown as WebGPUBackend;
  const data = [{ type: 'int32', data: [col.o] }, ...col.uniforms];
  const means = gw.runWebGPUProgram(reduction('smWsMean', col.o, ['W'], 'k : i32, o : i32,', COLUMN_HELPERS, 'uniforms.k',
    'vec2<f32>(W[columnIndex(s, e)], 0.0)', 'setOutputAtIndex(s * 2, sums.x / f32(uniforms.k)); setOutputAtIndex(s * 2 + 1, 0.0);'), [w], 'float32', data);
  // The unbiased std (torch.std, mmcv's conv_ws_2d).
  const moments = gw.runWebGPUProgram(reduction('smWsStd', col.o, ['W', 'M'], 'k : i32, o : i32,', COLUMN_HELPERS, 'uniforms.k',
    'vec2<f32>(0.0, (W[columnIndex(s, e)] - M[s * 2]) * (W[columnIndex(s, e)] - M[s * 2]))',
    'setOutputAtIndex(s * 2, M[s * 2]); setOutputAtIndex(s * 2 + 1, sqrt(sums.y / f32(max(uniforms.k - 1, 1))));'), [w, means], 'float32', data);
  const y = run(b, program({
    key: 'smWsApply', outputShape: [...w.shape], inputs: ['W', 'S'], uniforms: 'k : i32, o : i32, epsilon : f32,',
    code: `
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let s = index % uniforms.o;
  setOutputAtIndex(index, (W[index] - S[s * 2]) / (S[s * 2 + 1] + uniforms.epsilon));
}`,
  }), [w, moments], col.size, [...col.uniforms, { type: 'float32', data: [epsilon] }]);
  const mean = column(b, moments, 0, [col.o]);
  const std = column(b, moments, 1, [col.o]);
  dispose(b, means, moments);
  return [y, mean, std];
};

/**
 * y = (w - mean) / (std + eps), std unbiased over K: dw = (g - mean(g)) / s - d * sum(g d) / (s^2 (K - 1) std),
 * with d = w - mean and s = std + eps.
 */
const standardizeGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as KernelBackend;
  const { dy, w, mean, std } = inputs as Record<'dy' | 'w' | 'mean' | 'std', TensorInfo>;
  const { epsilon } = attrs as unknown as StandardizeAttrs;
  const col = columns(w);
  const gw = b as unknown as WebGPUBackend;
  const sums = gw.runWebGPUProgram(reduction('smWsGradSums', col.o, ['Dy', 'W', 'Mean'], 'k : i32, o : i32,', COLUMN_HELPERS, 'uniforms.k',
    'vec2<f32>(Dy[columnIndex(s, e)], Dy[columnIndex(s, e)] * (W[columnIndex(s, e)] - Mean[s]))',
    'setOutputAtIndex(s * 2, sums.x); setOutputAtIndex(s * 2 + 1, sums.y);'), [dy, w, mean], 'float32', [{ type: 'int32', data: [col.o] }, ...col.uniforms]);
  const dw = run(b, program({
    key: 'smWsGrad', outputShape: [...w.shape], inputs: ['Dy', 'W', 'Mean', 'Std', 'Sums'], uniforms: 'k : i32, o : i32, epsilon : f32,',
    code: `
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let o = index % uniforms.o;
  let k = f32(uniforms.k);
  let sd = Std[o];
  let s = sd + uniforms.epsilon;
  let d = W[index] - Mean[o];
  let spread = select(0.0, d * Sums[o * 2 + 1] / (s * s * (k - 1.0) * sd), uniforms.k > 1 && sd > 0.0);
  setOutputAtIndex(index, (Dy[index] - Sums[o * 2] / k) / s - spread);
}`,
  }), [dy, w, mean, std, sums], col.size, [...col.uniforms, { type: 'float32', data: [epsilon] }]);
  dispose(b, sums);
  return dw;
};

export const normWebGpu = { normForward, normBackward, standardize, standardizeGrad };
