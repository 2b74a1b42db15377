// The train-step benchmark's two-stage row: one training step (forward, backward, SGD-momentum
// update) of Faster R-CNN-ResNet-18-FPN (P2-P6, GroupNorm + WS backbone) in libs/detector and in
// torchvision (bench/learning/pytorch_faster_rcnn.py --bench-step, the same network and settings:
// RPN 256 anchors per image, 1000 proposals, `rois` sampled RoIs per image, FC 4 x head), on the
// same fixed batch and threads, measured in the same run. Prints the ratio ours / PyTorch.
//
//   flock -x /tmp/sm-nas-cpu.lock pnpm exec tsx bench/train-step-two-stage.ts
//   BENCH_STEPS [5] timed steps after 2 warm-up steps; BENCH_THREADS [all CPUs]; BENCH_SIZE [128];
//   BENCH_BATCH [8]; BENCH_FPN [256]; BENCH_HEAD [256]; BENCH_ROIS [128]; BENCH_PYTHON [/usr/bin/python3].
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseCanonical } from '@sm-nas/arch';
import { createDetector } from '@sm-nas/detector';
import { initBackend, tf } from '@sm-nas/tfjs-runtime';
import { ensureTorchPeer, PYTHON, torchEnv } from './torch-peer.js';

const num = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const steps = num('BENCH_STEPS', 5);
const threads = num('BENCH_THREADS', os.availableParallelism());
const size = num('BENCH_SIZE', 128);
const batch = num('BENCH_BATCH', 8);
const fpn = num('BENCH_FPN', 256);
const head = num('BENCH_HEAD', 256);
const rois = num('BENCH_ROIS', 128);
const classes = 6;
const warmup = 2;

// Three boxes per image, of small, medium and large size, deterministic.
const boxes: number[][] = [];
const labels: number[][] = [];
for (let i = 0; i < batch; i++) {
  const s = size / 128;
  boxes.push([8 + i, 10, 40 + i, 50, 50, 30 + i, 120, 100, 70, 6, 90, 26].map((v) => Math.min(size, v * s)));
  labels.push([i % classes, (i + 1) % classes, (i + 2) % classes]);
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const arch = parseCanonical(`resnet18:64:11-21-21-21/fpn:2-6:${fpn}/rpn/faster_rcnn:${head}/${size}x${size}`);
  const det = createDetector(arch, { numClasses: classes, norm: 'group_norm', twoStage: { rcnn: { sampleNum: rois } } });
  const images = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const opt = tf.train.momentum(0.001, 0.9);
  const b = { images, boxes: boxes.map((x) => Float32Array.from(x)), labels: labels.map((x) => Int32Array.from(x)) };
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    await det.trainStep(opt, b);
    if (i >= warmup) times.push(performance.now() - t0);
  }
  const ours = times.sort((a, c) => a - c)[Math.floor(times.length / 2)]!;
  det.dispose();

  ensureTorchPeer();
  const python = PYTHON;
  const script = fileURLToPath(new URL('./learning/pytorch_faster_rcnn.py', import.meta.url));
  const cfg = { threads, classes, fpn, head, size, rois, batch, boxes, labels, warmup, steps };
  const run = spawnSync(python, [script, '--bench-step', JSON.stringify(cfg)], { encoding: 'utf8', maxBuffer: 1 << 20, env: torchEnv(threads) });
  if (run.status !== 0) throw new Error(`${python} failed: ${run.stderr}`);
  const torch = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { torch: string; threads: number; ms: number; params: number };
  console.log(`backend ${backend.name} (${backend.reason}); PyTorch ${torch.torch}, ${torch.threads} threads; median of ${steps} steps after ${warmup}`);
  console.log('| network | batch | input | ours ms | PyTorch ms | ours / PyTorch |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| Faster R-CNN R18-FPN${fpn} (GN+WS), ${rois} RoIs/img | ${batch} | ${size}x${size} | ${ours.toFixed(0)} | ${torch.ms.toFixed(0)} | ${(ours / torch.ms).toFixed(2)} |`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
