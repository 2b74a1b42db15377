// The convolution's filter gradient in WGSL as a tiled, split-K implicit GEMM. tfjs-backend-webgpu
// 4.22's own Conv2DBackpropFilter gives each filter element one invocation that loops over the whole
// batch and image: on an H200 it was 83% of a RetinaNet training step's GPU time (1.1 of 1.3 s).
//
// dW[kh, kw, ci, co] = sum over (n, oy, ox) of x[n, oy*s - pad + kh*d, ox*s - pad + kw*d, ci] * dy[n, oy, ox, co]:
// an M x N output (M = kh kw ci, N = co) over K = n ho wo products. Each workgroup computes a 32 x 32
// tile over one chunk of K through workgroup memory (each invocation 2 x 2 outputs), and the chunks'
// partial tiles are added into the zeroed output atomically.
import { backend_util, type KernelBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { ATOMIC_ADD, run } from './program.js';

const TILE = 32;
/** Products per chunk of K: enough to amortise a tile's loads, few enough to fill the GPU. */
const CHUNK = 2048;
const MAX_SPLITS = 64;

export const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (dataFormat !== undefined && dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter on webgpu: NHWC only, got ${dataFormat}`);
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const [kh, kw, ci, co] = filterShape;
  const m = kh * kw * ci;
  const k = info.batchSize * info.outHeight * info.outWidth;
  const splits = Math.max(1, Math.min(MAX_SPLITS, Math.ceil(k / CHUNK)));
  const chunk = Math.ceil(k / splits / TILE) * TILE;
  const p = {
    outputShape: [...filterShape],
    shaderKey: 'smConv2DBackpropFilter',
    dispatchLayout: { x: [3], y: [0, 1, 2], z: [] as number[] },
    dispatch: [Math.ceil(co / TILE), Math.ceil(m / TILE), splits],
    variableNames: ['X', 'Dy'],
    uniforms: 'count : i32, kh : i32, kw : i32, ci : i32, co : i32, ho : i32, wo : i32, sh : i32, sw : i32, padTop : i32, padLeft : i32, kTotal : i32, chunk : i32,',
    workgroupSize: [16, 16, 1],
    atomic: true,
    getUserCode: () => `
var<workgroup> As : array<array<f32, ${TILE}>, ${TILE}>;
var<workgroup> Bs : array<array<f32, ${TILE}>, ${TILE}>;
${ATOMIC_ADD}
// x at filter row m = (kh, kw, ci) and product k = (n, oy, ox); 0 outside the image or the chunk.
fn loadA(mi : i32, ki : i32, kEnd : i32) -> f32 {
  if (mi >= uniforms.count || ki >= kEnd) { return 0.0; }
  let c = mi % uniforms.ci;
  let fx = (mi / uniforms.ci) % uniforms.kw;
  let fy = mi / (uniforms.ci * uniforms.kw);
  let ox = ki % uniforms.wo;
  let oy = (ki / uniforms.wo) % uniforms.ho;
  let n = ki / (uniforms.wo * uniforms.ho);
  let iy = oy * uniforms.sh - uniforms.padTop + fy;
  let ix = ox * uniforms.sw - uniforms.padLeft + fx;
  let H = uniforms.xShape[1];
  let W = uniforms.xShape[2];
  if (iy < 0 || iy >= H || ix < 0 || ix >= W) { return 0.0; }
  return X[((n * H + iy) * W + ix) * uniforms.ci + c];
}
fn loadB(ki : i32, ni : i32, kEnd : i32) -> f32 {
  if (ni >= uniforms.co || ki >= kEnd) { return 0.0; }
  return Dy[ki * uniforms.co + ni];
}
fn main() {
  let tx = i32(localId.x);
  let ty = i32(localId.y);
  let lane = ty * 16 + tx;
  let n0 = i32(workgroupId.x) * ${TILE};
  let m0 = i32(workgroupId.y) * ${TILE};
  let kBegin = i32(workgroupId.z) * uniforms.chunk;
  let kEnd = min(uniforms.kTotal, kBegin + uniforms.chunk);
  var a00 = 0.0; var a01 = 0.0; var a10 = 0.0; var a11 = 0.0;
  // A trip count from uniforms alone: barriers need uniform control flow (the chunk's end, which
  // depends on the workgroup, is applied in the loads).
  for (var step = 0; step < uniforms.chunk / ${TILE}; step++) {
    let kt = kBegin + step * ${TILE};
    for (var i = 0; i < ${(TILE * TILE) / 256}; i++) {
      let flat = lane + i * 256;
      let kk = flat / ${TILE};
      let mm = flat % ${TILE};
      As[kk][mm] = loadA(m0 + mm, kt + kk, kEnd);
      Bs[kk][mm] = loadB(kt + kk, n0 + mm, kEnd);
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${TILE}; kk++) {
      let x0 = As[kk][ty * 2];
      let x1 = As[kk][ty * 2 + 1];
      let y0 = Bs[kk][tx * 2];
      let y1 = Bs[kk][tx * 2 + 1];
      a00 += x0 * y0; a01 += x0 * y1; a10 += x1 * y0; a11 += x1 * y1;
    }
    workgroupBarrier();
  }
  let mA = m0 + ty * 2;
  let nA = n0 + tx * 2;
  if (mA < uniforms.count && nA < uniforms.co) { atomicAddF32(mA * uniforms.co + nA, a00); }
  if (mA < uniforms.count && nA + 1 < uniforms.co) { atomicAddF32(mA * uniforms.co + nA + 1, a01); }
  if (mA + 1 < uniforms.count && nA < uniforms.co) { atomicAddF32((mA + 1) * uniforms.co + nA, a10); }
  if (mA + 1 < uniforms.count && nA + 1 < uniforms.co) { atomicAddF32((mA + 1) * uniforms.co + nA + 1, a11); }
}`,
  } as unknown as WebGPUProgram;
  const ints = [kh, kw, ci, co, info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, k, chunk];
  return run(backend as KernelBackend, p, [x, dy], m, ints.map((v) => ({ type: 'int32' as const, data: [v] })));
};
