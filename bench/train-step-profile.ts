// Per-kernel time of one training step (tf.profile), to see where tfjs spends it.
//   pnpm exec tsx bench/train-step-profile.ts            (conv6: six 3x3 conv + ReLU, 32x64x64)
//   BENCH_NET=retinanet pnpm exec tsx bench/train-step-profile.ts
//     (RetinaNet-ResNet-18-FPN P3-P6, width 64, GN + WS, 8x128x128: bench/train-step.ts's detector)
//   BENCH_NET=faster | cascade: bench/learning/two-stage.ts's Faster / 3-stage Cascade R-CNN-R18-FPN
//     (P2-P6, 256, GN + WS, 8x128x128, 300 proposals and 128 RoIs per image)
//   BENCH_TOP (default 16) kernels are listed, with their call counts.
import { parseArchitecture } from '../libs/arch/src/index.js';
import { createDetector } from '../libs/detector/src/index.js';
import { initBackend, tf } from '../libs/tfjs-runtime/src/index.js';

await initBackend();
const which = process.env.BENCH_NET ?? 'conv6';
let step: () => Promise<unknown>;
if (which === 'retinanet') {
  const det = createDetector(parseArchitecture('resnet18:64:11-21-21-21/fpn:3-6:64/none/retinanet:64/128x128'), { numClasses: 6, norm: 'group_norm', seed: 0 });
  const images = tf.randomNormal([8, 128, 128, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const boxes = Array.from({ length: 8 }, (_, i) => Float32Array.from([8 + 2 * i, 12, 60, 68, 40, 32, 120, 124, 80, 8, 104, 28]));
  const labels = Array.from({ length: 8 }, (_, i) => Int32Array.from([i % 6, (i + 2) % 6, (i + 4) % 6]));
  const opt = tf.train.momentum(0.01, 0.9);
  step = () => det.trainStep(opt, { images, boxes, labels });
} else if (which === 'faster' || which === 'cascade') {
  // bench/learning/two-stage.ts's detectors: 300 proposals and 128 sampled RoIs per image
  const head = which === 'faster' ? 'faster_rcnn:256' : 'cascade_rcnn.3:256';
  const det = createDetector(parseArchitecture(`resnet18:64:11-21-21-21/fpn:2-6:256/rpn/${head}/128x128`), {
    numClasses: 6, norm: 'group_norm', seed: 0,
    twoStage: { rcnn: { sampleNum: 128 }, proposals: { train: { maxPerImg: 300 }, test: { maxPerImg: 300 } } },
  });
  const images = tf.randomNormal([8, 128, 128, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const boxes = Array.from({ length: 8 }, (_, i) => Float32Array.from([8 + 2 * i, 12, 60, 68, 40, 32, 120, 124, 80, 8, 104, 28]));
  const labels = Array.from({ length: 8 }, (_, i) => Int32Array.from([i % 6, (i + 2) % 6, (i + 4) % 6]));
  const opt = tf.train.momentum(0.01, 0.9);
  step = () => det.trainStep(opt, { images, boxes, labels });
} else {
  const params: tf.Variable[] = [];
  const convs = [[3, 32, 1], [32, 32, 1], [32, 64, 2], [64, 64, 1], [64, 128, 2], [128, 128, 1]].map(([ci, co, s]) => {
    const w = tf.variable(tf.randomNormal([3, 3, ci!, co!], 0, 0.1));
    params.push(w);
    return (x: tf.Tensor4D) => tf.relu(tf.conv2d(x, w as tf.Tensor4D, s!, 'same'));
  });
  const fc = tf.variable(tf.randomNormal([128, 10], 0, 0.1));
  params.push(fc);
  const x = tf.randomNormal([32, 64, 64, 3]) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 10), 'int32'), 10);
  const opt = tf.train.momentum(0.01, 0.9);
  step = async () => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, tf.matMul(tf.mean(convs.reduce((h, c) => c(h), x), [1, 2]) as tf.Tensor2D, fc as tf.Tensor2D)) as tf.Scalar, true, params)!;
    await loss.data();
    loss.dispose();
  };
}
await step();
const t0 = performance.now();
const profile = await tf.profile(async () => void (await step()));
const total = performance.now() - t0;
const byKernel = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += k.kernelTimeMs as number;
  e.calls++;
  byKernel.set(k.name, e);
}
const kernelMs = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
console.log(`${which}: step ${total.toFixed(0)} ms (profiled), ${kernelMs.toFixed(0)} ms in ${profile.kernels.length} kernel calls`);
for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.BENCH_TOP ?? 16))) {
  console.log(`${name.padEnd(28)} ${e.ms.toFixed(0).padStart(6)} ms  ${String(e.calls).padStart(5)} calls`);
}
if (process.env.BENCH_CALLS) {
  // the slowest single calls with their shapes: which gather, which split
  for (const k of [...profile.kernels].sort((a, b) => (b.kernelTimeMs as number) - (a.kernelTimeMs as number)).slice(0, Number(process.env.BENCH_CALLS))) {
    console.log(`${k.name.padEnd(28)} ${(k.kernelTimeMs as number).toFixed(0).padStart(6)} ms  in ${JSON.stringify(k.inputShapes)} out ${JSON.stringify(k.outputShapes)}`);
  }
}
process.exit(0);
