// Per-kernel time of one conv6 training step (tf.profile), to see where tfjs spends it.
//   pnpm exec tsx bench/train-step-profile.ts
import { initBackend, tf } from '../libs/tfjs-runtime/src/index.js';

await initBackend();
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
const step = () => opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, tf.matMul(tf.mean(convs.reduce((h, c) => c(h), x), [1, 2]) as tf.Tensor2D, fc as tf.Tensor2D)) as tf.Scalar, true, params)!.dataSync();
step();
const t0 = performance.now();
const profile = await tf.profile(step);
const total = performance.now() - t0;
const byKernel = new Map<string, number>();
for (const k of profile.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
console.log(`step ${total.toFixed(0)} ms (profiled)`);
for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${name.padEnd(28)} ${ms.toFixed(0)} ms`);
process.exit(0);
