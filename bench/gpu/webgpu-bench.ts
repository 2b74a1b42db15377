// The webgpu backend on whatever adapter this machine has: which adapter and hardware class, this
// package's WGSL kernels against the cpu backend on the same machine, and timings of the rows of
// the GPU bench table (a 3x3 convolution, a matmul, the project's RetinaNet, Faster and Cascade
// R-CNN training steps and inference). On a software adapter (lavapipe) the shapes shrink: that run
// checks the bench end to end, it says nothing about GPU speed.
//
//   pnpm exec tsx bench/gpu/webgpu-bench.ts [OUT.json]        here (SM_NAS_TFJS_BACKEND=webgpu implied)
//   bash bench/gpu/pack.sh, then bash gpu-bundle/run.sh       on a bare GPU host (see run.sh)
//   BENCH_GPU_SIZE=small|full overrides the choice by adapter.
// tfjs-core's gradients, statically: a bundle of this file has no node_modules for the runtime's hook.
// tfjs-core's Node build first: the engine (global) is made by whichever copy loads first, and its
// tensors must be the Node build's, whose ops are all set up.
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { writeFileSync } from 'node:fs';
import { parseArchitecture } from '../../libs/arch/src/index.js';
import { createDetector, type Detector } from '../../libs/detector/src/index.js';
import {
  AdamW, deviceIdle, initBackend, kernelMs, roiAlignLevels, squaredNorm, deformSample, tf, type BackendInfo,
} from '../../libs/tfjs-runtime/src/index.js';
import { describeHardware, readHardwareSources } from '../../services/profiler/src/hardware.js';
import { random } from '../../libs/tfjs-runtime/src/kernels/__fixtures__/random.js';
import { trainingBoxes, trainingNetworks } from './networks.js';

const outFile = process.argv[2];
const started = performance.now();
const info: BackendInfo = await initBackend({ backend: 'webgpu' });
const full = (process.env['BENCH_GPU_SIZE'] ?? (info.adapter?.software ? 'small' : 'full')) === 'full';
const hardware = describeHardware(readHardwareSources(info));
console.log(`hardware class ${hardware.hardwareClass}; shapes ${full ? 'full' : 'small (software adapter)'}`);

const t4 = (shape: [number, number, number, number], seed: number, scale = 1) => tf.tensor4d(random(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

/** Largest |a - b| over the largest |b|. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  return worst / scale;
}

async function onBoth(f: () => tf.Tensor[]): Promise<number> {
  const values = async (backend: string) => {
    await tf.setBackend(backend);
    const outs = tf.tidy(f);
    const v = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(outs);
    return v;
  };
  const ref = await values('cpu');
  const got = await values('webgpu');
  return Math.max(...got.map((g, i) => relDiff(g, ref[i]!)));
}

// The WGSL kernels on this adapter against the cpu backend (relative max difference; the CI suite
// holds them under 1e-4 on lavapipe).
const kernels: Record<string, number> = {};
kernels['roiAlign levels + gradients'] = await onBoth(() => {
  const maps = [t4([2, 32, 32, 16], 1), t4([2, 16, 16, 16], 2), t4([2, 8, 8, 16], 3)];
  const rois = tf.tensor2d(Float32Array.of(0, 3, 5, 27, 19, 1, 0, 0, 127, 127, 1, 10.3, 2.7, 13.1, 30.2, 0, -6, -4, 12, 9, 0, 40, 44, 100, 122), [5, 5]);
  const levels = Int32Array.of(0, 2, 0, 1, 2);
  const attrs = { outputSize: 7, samplingRatio: 0, spatialScales: [1 / 4, 1 / 8, 1 / 16], aligned: true };
  const dy = tf.tensor4d(random(5 * 49 * 16, 4), [5, 7, 7, 16]);
  const f = (...m: tf.Tensor[]) => tf.sum(tf.mul(roiAlignLevels(m as tf.Tensor4D[], rois, levels, attrs), dy));
  return [roiAlignLevels(maps, rois, levels, attrs), ...tf.grads(f)(maps)];
});
kernels['deformable sampling + gradients'] = await onBoth(() => {
  const attrs = { kernel: 3, stride: 1, padding: 1, dilation: 1, deformGroups: 4 };
  const x = t4([2, 16, 16, 32], 5);
  const off = t4([2, 16, 16, 72], 6, 3);
  const dy = t4([2, 16, 16, 288], 7);
  const grads = tf.grads((v: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(deformSample(v as tf.Tensor4D, o as tf.Tensor4D, attrs), dy)))([x, off]);
  return [deformSample(x, off, attrs), ...grads];
});
kernels['squared norm'] = await onBoth(() => [squaredNorm([tf.tensor1d(random(1_000_003, 8)), tf.tensor1d(random(77, 9))])]);
console.log(`kernels vs cpu (max relative difference): ${Object.entries(kernels).map(([k, v]) => `${k} ${v.toExponential(1)}`).join('; ')}`);
await tf.setBackend('webgpu');

/** Median and p90 of `n` timed calls of `f` after `warm` untimed ones; each waits for the device. */
async function timeIt(f: () => Promise<void> | void, n: number, warm = 2): Promise<{ p50: number; p90: number; first: number }> {
  const times: number[] = [];
  let first = 0;
  for (let i = 0; i < n + warm; i++) {
    const t0 = performance.now();
    await f();
    await deviceIdle();
    const ms = performance.now() - t0;
    if (i === 0) first = ms;
    if (i >= warm) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)]!, p90: times[Math.min(times.length - 1, Math.floor(times.length * 0.9))]!, first };
}

const rows: Record<string, unknown>[] = [];
const result = () => ({ backend: info, hardwareClass: hardware.hardwareClass, gpu: hardware.gpu, kernels, rows, seconds: (performance.now() - started) / 1000 });
/** Prints a row and rewrites the results file: a run cut short by its time limit keeps what it measured. */
function row(name: string, r: Record<string, unknown>): void {
  rows.push({ name, ...r });
  console.log(`${name}: ${JSON.stringify(r)}`);
  if (outFile) writeFileSync(outFile, JSON.stringify(result(), null, 2));
}

{
  const [n, s, c] = full ? [8, 64, 256] : [2, 16, 64];
  const x = t4([n, s, s, c], 11);
  const w = t4([3, 3, c, c], 12, 0.05);
  const r = await timeIt(() => tf.dispose(tf.conv2d(x, w, 1, 'same')), full ? 20 : 5);
  const flop = 2 * n * s * s * c * c * 9;
  const gpuMs = await kernelMs(() => tf.dispose(tf.conv2d(x, w, 1, 'same')));
  row(`conv 3x3 ${c}->${c} on ${n}x${s}x${s}`, { ...r, tflops: flop / (r.p50 * 1e9), kernelMs: gpuMs });
  tf.dispose([x, w]);
}
{
  const m = full ? 4096 : 512;
  const a = tf.tensor2d(random(m * m, 13), [m, m]);
  const b = tf.tensor2d(random(m * m, 14), [m, m]);
  const r = await timeIt(() => tf.dispose(tf.matMul(a, b)), full ? 20 : 5);
  row(`matmul ${m}x${m}`, { ...r, tflops: (2 * m ** 3) / (r.p50 * 1e9) });
  tf.dispose([a, b]);
}

function batchOf(n: number, size: number) {
  const { boxes, labels } = trainingBoxes(n, size);
  return {
    images: tf.randomNormal([n, size, size, 3], 0, 1, 'float32', 7) as tf.Tensor4D,
    boxes: boxes.map((b) => Float32Array.from(b)),
    labels: labels.map((l) => Int32Array.from(l)),
  };
}

/**
 * Where one training step's time goes: every top-level kernel timed on the GPU (timestamp queries,
 * tf.profile), summed by kernel name; the dispatch count and the GPU total beside the step's wall
 * time. Timing each kernel on its own adds to the wall time of this step, not to the GPU's sums.
 */
async function stepProfile(det: Detector, opt: tf.Optimizer, batch: ReturnType<typeof batchOf>) {
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    await det.trainStep(opt, batch);
    return [];
  });
  const wallMs = performance.now() - t0;
  const byName = new Map<string, { calls: number; ms: number }>();
  let gpuMs = 0;
  for (const k of info.kernels) {
    const t = await k.kernelTimeMs;
    const ms = typeof t === 'number' ? t : 0;
    gpuMs += ms;
    const e = byName.get(k.name) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += ms;
    byName.set(k.name, e);
  }
  const top = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15).map(([name, e]) => ({ name, calls: e.calls, ms: Number(e.ms.toFixed(2)) }));
  return { kernels: info.kernels.length, gpuMs: Number(gpuMs.toFixed(1)), wallMsProfiled: Number(wallMs.toFixed(1)), top };
}

const size = full ? 512 : 64;
// A software adapter runs a full-width detector step in tens of seconds: a quarter width there.
const width = full ? 1 : 0.25;
for (const net of trainingNetworks(size)) {
  for (const batch of full ? [8] : [2]) {
    let det: Detector | undefined;
    const b = batchOf(batch, size);
    try {
      det = createDetector(parseArchitecture(net.arch), { numClasses: 80, norm: 'group_norm', seed: 0, fidelity: { inputScale: 1, widthMultiplier: width } });
      const opt = new AdamW({ learningRate: 1e-4, weightDecay: 1e-4 });
      const losses: number[] = [];
      const d = det;
      const r = await timeIt(async () => {
        losses.push((await d.trainStep(opt, b)).total);
      }, full ? 5 : 3, 2);
      const one = batchOf(1, size);
      const infer = await timeIt(async () => {
        await d.predict(one.images);
      }, full ? 10 : 3, 2);
      row(`${net.name} train step, batch ${batch}, ${size}x${size}, GN+WS, width ${width}`, {
        key: net.key,
        ...r, losses: losses.map((l) => Number(l.toFixed(4))), predictBatch1: infer, stepProfile: await stepProfile(d, opt, b),
      });
      one.images.dispose();
      opt.dispose();
    } catch (error) {
      row(`${net.name} train step, batch ${batch}`, { key: net.key, error: error instanceof Error ? (error.stack ?? error.message).split('\n').slice(0, 6).join(' | ') : String(error) });
    } finally {
      det?.dispose();
      b.images.dispose();
    }
  }
}

if (outFile) writeFileSync(outFile, JSON.stringify(result(), null, 2));
console.log(`done in ${result().seconds.toFixed(1)} s`);
process.exit(0);
