// conv2dBiasRelu against tfjs's unfused composition relu(conv2d(x, f) + b), value and gradients,
// on cpu and (where it loads) wasm with the native kernels.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2dBiasRelu } from './conv-relu.js';
import { wasmOrCpu } from './kernels/__fixtures__/backend.js';
import { random } from './kernels/__fixtures__/random.js';
import { expectClose } from './kernels/__fixtures__/close.js';

let backends: string[] = ['cpu'];
beforeAll(async () => {
  if (await wasmOrCpu()) backends = ['cpu', 'wasm'];
});


describe('conv2dBiasRelu', () => {
  const cases = [
    { x: [2, 9, 8, 5], k: 3, out: 6, stride: 1, pad: 1, bias: true },
    { x: [1, 11, 11, 4], k: 3, out: 3, stride: 2, pad: 1, bias: true },
    { x: [2, 7, 7, 6], k: 1, out: 4, stride: 1, pad: 0, bias: false },
    { x: [1, 8, 9, 3], k: 3, out: 5, stride: 1, pad: 'same' as const, bias: true },
  ];
  for (const c of cases) {
    it(`${c.k}x${c.k} stride ${c.stride} pad ${c.pad}${c.bias ? ' + bias' : ''}: value and gradients equal the composition`, async () => {
      const [n, h, w, ci] = c.x as [number, number, number, number];
      for (const backend of backends) {
        await tf.setBackend(backend);
        const [ours, ref] = [true, false].map((fused) => tf.tidy(() => {
          const x = tf.tensor4d(random(n * h * w * ci, 1), [n, h, w, ci]);
          const f = tf.tensor4d(random(c.k * c.k * ci * c.out, 2), [c.k, c.k, ci, c.out]);
          // A bias near zero so some outputs sit on either side of the ReLU.
          const b = tf.tensor1d(random(c.out, 3, 0.5));
          const probe = (y: tf.Tensor) => tf.tensor(random(y.size, 4), y.shape);
          const fn = (xi: tf.Tensor, fi: tf.Tensor, bi: tf.Tensor) => fused
            ? conv2dBiasRelu(xi as tf.Tensor4D, fi as tf.Tensor4D, c.bias ? (bi as tf.Tensor1D) : null, c.stride, c.pad)
            : tf.relu(c.bias ? tf.add(tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.stride, c.pad), bi) : tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.stride, c.pad));
          const y = fn(x, f, b);
          const dy = probe(y);
          const grads = c.bias
            ? tf.grads((xi: tf.Tensor, fi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(fn(xi, fi, bi), dy)))([x, f, b])
            : tf.grads((xi: tf.Tensor, fi: tf.Tensor) => tf.sum(tf.mul(fn(xi, fi, b), dy)))([x, f]);
          return [y, ...grads].map((t) => t.dataSync() as Float32Array);
        }));
        expect(ours!.length).toBe(c.bias ? 4 : 3);
        ['y', 'dx', 'dfilter', 'dbias'].slice(0, ours!.length).forEach((what, i) => expectClose(ours![i]!, ref![i]!, `${backend} ${what}`));
      }
    });
  }
});
