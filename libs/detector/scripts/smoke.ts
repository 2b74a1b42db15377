import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@sm-nas/tfjs-runtime';
import { standardBackbone } from '@sm-nas/arch';
import { createDetector } from '../src/index.js';

const info = await initBackend({ backend: (process.env.BK as 'wasm' | 'cpu') ?? 'wasm' });
const size = Number(process.env.SIZE ?? 64);
const wm = Number(process.env.WM ?? 0.25);
const n = Number(process.env.N ?? 2);
const det = createDetector({
  backbone: standardBackbone((process.env.BB ?? 'resnet18') as 'resnet18'),
  neck: { kind: 'fpn', startLevel: 3, endLevel: 6, channels: 256, extraSource: 'c5' },
  rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 256 },
  input: { widthPx: size, heightPx: size },
}, { numClasses: 8, norm: (process.env.NORM ?? 'group_norm') as 'group_norm', fidelity: { inputScale: 1, widthMultiplier: wm }, seed: 1 });
console.log(info.name, det.arch, det.trainableVariables().length);
const images = tf.randomNormal([n, size, size, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
const boxes = Array.from({ length: n }, (_, i) => Float32Array.from([4 + i, 8, size / 2, size / 2 + 5, size / 3, size / 4, size - 3, size - 9]));
const labels = Array.from({ length: n }, () => Int32Array.from([1, 3]));
const opt = tf.train.sgd(0.01);
for (let s = 0; s < Number(process.env.STEPS ?? 5); s++) {
  const t0 = performance.now();
  const l = await det.trainStep(opt, { images, boxes, labels });
  console.log(s, (performance.now() - t0).toFixed(0), 'ms', l, tf.memory().numTensors);
}
const t0 = performance.now();
const dets = await det.predict(images);
console.log('predict', (performance.now() - t0).toFixed(0), 'ms', dets[0]!.scores.length, tf.memory().numTensors);
