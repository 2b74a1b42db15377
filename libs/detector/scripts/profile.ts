import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@sm-nas/tfjs-runtime';
import { standardBackbone } from '@sm-nas/arch';
import { createDetector } from '../src/index.js';

await initBackend({ backend: (process.env.BK as 'wasm' | 'cpu') ?? 'wasm' });
const size = Number(process.env.SIZE ?? 128);
const n = Number(process.env.N ?? 8);
const det = createDetector({
  backbone: standardBackbone('resnet18'),
  neck: { kind: 'fpn', startLevel: 3, endLevel: 6, channels: 256, extraSource: 'c5' },
  rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 256 },
  input: { widthPx: size, heightPx: size },
}, { numClasses: 8, norm: (process.env.NORM ?? 'group_norm') as 'group_norm', seed: 1 });
const images = tf.randomNormal([n, size, size, 3]) as tf.Tensor4D;
const boxes = Array.from({ length: n }, () => Float32Array.from([4, 8, 60, 70, 40, 30, 120, 100]));
const labels = Array.from({ length: n }, () => Int32Array.from([1, 3]));
const run = process.env.TRAIN ? async () => { await det.trainStep(tf.train.sgd(0.001), { images, boxes, labels }); } : async () => { tf.dispose([...det.forward(images).values()].flatMap((m) => [...m.values()])); };
await run();
const t0 = performance.now();
const prof = await tf.profile(run);
console.log('total', performance.now() - t0);
const by = new Map<string, [number, number]>();
for (const k of prof.kernels) {
  const e = by.get(k.name) ?? [0, 0];
  e[0] += k.kernelTimeMs as number; e[1]++;
  by.set(k.name, e);
}
for (const [k, [t, c]] of [...by].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25)) console.log(k.padEnd(36), t.toFixed(0).padStart(7), c);
