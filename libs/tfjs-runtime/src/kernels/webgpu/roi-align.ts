// RoIAlign over FPN levels and its gradient in WGSL: ../roi-align.ts's rule (mmcv aligned, average,
// adaptive sampling) with no host plan. The forward runs one invocation per output element and
// reads the RoI, its level and its samples itself; the gradient runs one per element of dy and adds
// each sample's share into the level's map atomically (RoIs overlap).
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { roiAlignInputs, type RoiAlignLevelsAttrs } from '../roi-align.js';
import { AXIS_SAMPLE, program, run } from './program.js';

/** The bins and samples of RoI r's bin (i, j) on a map of `shape`, calling `visit` per corner. */
const BIN_SAMPLES = `
// Element index of [R, S, S, C] -> (r, i, j, c).
fn binElement(index : i32, C : i32) -> vec4<i32> {
  let S = uniforms.outputSize;
  let bin = index / C;
  return vec4<i32>(bin / (S * S), (bin / S) % S, bin % S, index % C);
}
struct Bin { x1 : f32, y1 : f32, bw : f32, bh : f32, gw : i32, gh : i32, n : i32, ok : bool };
fn binOf(r : i32, i : i32, j : i32, scale : f32, batch : i32) -> Bin {
  var b : Bin;
  let S = uniforms.outputSize;
  let shift = select(0.0, 0.5, uniforms.aligned != 0);
  let nf = Rois[5 * r];
  b.n = i32(nf);
  b.ok = f32(b.n) == nf && b.n >= 0 && b.n < batch;
  let x1 = Rois[5 * r + 1] * scale - shift;
  let y1 = Rois[5 * r + 2] * scale - shift;
  var rw = Rois[5 * r + 3] * scale - shift - x1;
  var rh = Rois[5 * r + 4] * scale - shift - y1;
  if (uniforms.aligned == 0) { rw = max(rw, 1.0); rh = max(rh, 1.0); }
  b.bw = rw / f32(S);
  b.bh = rh / f32(S);
  b.gh = select(max(1, i32(ceil(rh / f32(S)))), uniforms.samplingRatio, uniforms.samplingRatio > 0);
  b.gw = select(max(1, i32(ceil(rw / f32(S)))), uniforms.samplingRatio, uniforms.samplingRatio > 0);
  b.x1 = x1 + f32(j) * b.bw;
  b.y1 = y1 + f32(i) * b.bh;
  return b;
}
`;

function levelSwitch(levels: number, body: (l: number) => string): string {
  return Array.from({ length: levels }, (_, l) => `if (level == ${l}) { ${body(l)} }`).join(' else ');
}

const forward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { rois, levels, maps } = roiAlignInputs(inputs);
  const a = attrs as unknown as RoiAlignLevelsAttrs;
  const L = maps.length;
  const c = maps[0]!.shape[3]!;
  const r = rois.shape[0]!;
  const outputShape = [r, a.outputSize, a.outputSize, c];
  const mapNames = maps.map((_, l) => `Map${l}`);
  const p = program({
    key: `smRoiAlign_${L}`,
    outputShape,
    inputs: ['Rois', 'Levels', ...mapNames],
    uniforms: `outputSize : i32, samplingRatio : i32, aligned : i32, ${mapNames.map((_, l) => `scale${l} : f32,`).join(' ')}`,
    code: `
${AXIS_SAMPLE}
${BIN_SAMPLES}
fn fetch(level : i32, n : i32, y : i32, x : i32, c : i32) -> f32 {
  ${levelSwitch(L, (l) => `let s = uniforms.map${l}Shape; return Map${l}[((n * s[1] + y) * s[2] + x) * s[3] + c];`)}
  return 0.0;
}
fn levelShape(level : i32) -> vec4<i32> {
  ${levelSwitch(L, (l) => `return uniforms.map${l}Shape;`)}
  return vec4<i32>(0);
}
fn levelScale(level : i32) -> f32 {
  ${levelSwitch(L, (l) => `return uniforms.scale${l};`)}
  return 0.0;
}
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let e = binElement(index, uniforms.outShape[3]);
  let r = e[0]; let i = e[1]; let j = e[2]; let c = e[3];
  let level = Levels[r];
  var acc = 0.0;
  if (level >= 0 && level < ${L}) {
    let shape = levelShape(level);
    let b = binOf(r, i, j, levelScale(level), shape[0]);
    if (b.ok) {
      let inv = 1.0 / f32(b.gh * b.gw);
      for (var iy = 0; iy < b.gh; iy++) {
        let y = axisSample(b.y1 + (f32(iy) + 0.5) * b.bh / f32(b.gh), shape[1]);
        if (y.x < 0.0) { continue; }
        for (var ix = 0; ix < b.gw; ix++) {
          let x = axisSample(b.x1 + (f32(ix) + 0.5) * b.bw / f32(b.gw), shape[2]);
          if (x.x < 0.0) { continue; }
          let ylo = i32(y.x); let yhi = i32(y.y); let xlo = i32(x.x); let xhi = i32(x.y);
          acc += inv * ((1.0 - y.z) * (1.0 - x.z) * fetch(level, b.n, ylo, xlo, c)
            + (1.0 - y.z) * x.z * fetch(level, b.n, ylo, xhi, c)
            + y.z * (1.0 - x.z) * fetch(level, b.n, yhi, xlo, c)
            + y.z * x.z * fetch(level, b.n, yhi, xhi, c));
        }
      }
    }
  }
  setOutputAtIndex(index, acc);
}`,
  });
  const uniforms = [
    { type: 'int32' as const, data: [a.outputSize] },
    { type: 'int32' as const, data: [a.samplingRatio] },
    { type: 'int32' as const, data: [a.aligned ? 1 : 0] },
    ...a.spatialScales.map((s) => ({ type: 'float32' as const, data: [s] })),
  ];
  return run(backend as KernelBackend, p, [rois, levels, ...maps], r * a.outputSize * a.outputSize * c, uniforms);
};

/** dy, rois, levels -> dx of level `level` (attrs carry it and every level's inputShapes). */
const gradient: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, rois, levels } = inputs as { dy: TensorInfo; rois: TensorInfo; levels: TensorInfo };
  const a = attrs as unknown as RoiAlignLevelsAttrs & { inputShapes: number[][]; level: number };
  const shape = a.inputShapes[a.level]!;
  const p = program({
    key: 'smRoiAlignGrad',
    outputShape: shape,
    dispatchShape: dy.shape,
    inputs: ['Dy', 'Rois', 'Levels'],
    uniforms: 'outputSize : i32, samplingRatio : i32, aligned : i32, level : i32, scale : f32, batch : i32, height : i32, width : i32,',
    atomic: true,
    code: `
${AXIS_SAMPLE}
${BIN_SAMPLES}
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let C = uniforms.dyShape[3];
  let e = binElement(index, C);
  let r = e[0]; let i = e[1]; let j = e[2]; let c = e[3];
  if (Levels[r] != uniforms.level) { return; }
  let b = binOf(r, i, j, uniforms.scale, uniforms.batch);
  if (!b.ok) { return; }
  let g = Dy[index] / f32(b.gh * b.gw);
  let H = uniforms.height;
  let W = uniforms.width;
  let base = b.n * H * W;
  for (var iy = 0; iy < b.gh; iy++) {
    let y = axisSample(b.y1 + (f32(iy) + 0.5) * b.bh / f32(b.gh), H);
    if (y.x < 0.0) { continue; }
    for (var ix = 0; ix < b.gw; ix++) {
      let x = axisSample(b.x1 + (f32(ix) + 0.5) * b.bw / f32(b.gw), W);
      if (x.x < 0.0) { continue; }
      let ylo = i32(y.x); let yhi = i32(y.y); let xlo = i32(x.x); let xhi = i32(x.y);
      atomicAddF32((base + ylo * W + xlo) * C + c, g * (1.0 - y.z) * (1.0 - x.z));
      atomicAddF32((base + ylo * W + xhi) * C + c, g * (1.0 - y.z) * x.z);
      atomicAddF32((base + yhi * W + xlo) * C + c, g * y.z * (1.0 - x.z));
      atomicAddF32((base + yhi * W + xhi) * C + c, g * y.z * x.z);
    }
  }
}`,
  });
  const uniforms = [
    { type: 'int32' as const, data: [a.outputSize] },
    { type: 'int32' as const, data: [a.samplingRatio] },
    { type: 'int32' as const, data: [a.aligned ? 1 : 0] },
    { type: 'int32' as const, data: [a.level] },
    { type: 'float32' as const, data: [a.spatialScales[a.level] ?? 0] },
    { type: 'int32' as const, data: [shape[0]!] },
    { type: 'int32' as const, data: [shape[1]!] },
    { type: 'int32' as const, data: [shape[2]!] },
  ];
  const count = dy.shape.reduce((x, y) => x * y, 1);
  return run(backend as KernelBackend, p, [dy, rois, levels], count, uniforms);
};

export const roiAlignWebGpu = { forward, gradient };
