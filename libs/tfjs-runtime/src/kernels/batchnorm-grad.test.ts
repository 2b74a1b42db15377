// The regrouped FusedBatchNorm and Mean gradients against tfjs's own, on cpu, through the
// training-mode composition the networks use (moments, then batchNorm).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, expect, it } from 'vitest';
import { registerCoreGradients } from '../gradients.js';
import { registerLeanGradients, useLeanGradients } from './batchnorm-grad.js';
import { random } from './__fixtures__/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await registerCoreGradients();
  registerLeanGradients();
});

it('FusedBatchNorm and Mean gradients match tfjs-core', () => {
  const shape: [number, number, number, number] = [3, 5, 4, 6];
  const run = () => tf.tidy(() => {
    const x = tf.tensor4d(random(3 * 5 * 4 * 6, 1), shape);
    const gamma = tf.tensor1d(random(6, 2));
    const beta = tf.tensor1d(random(6, 3));
    const dy = tf.tensor4d(random(3 * 5 * 4 * 6, 4), shape);
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(a, [0, 1, 2]);
      return tf.sum(tf.mul(tf.batchNorm4d(a as tf.Tensor4D, mean as tf.Tensor1D, variance as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5), dy));
    };
    return tf.grads(f)([x, gamma, beta]).map((t) => t.dataSync() as Float32Array);
  });
  const lean = run();
  useLeanGradients(false);
  const own = run();
  useLeanGradients(true);
  for (let i = 0; i < own.length; i++) {
    let worst = 0;
    let scale = 1e-6;
    for (let j = 0; j < own[i]!.length; j++) {
      scale = Math.max(scale, Math.abs(own[i]![j]!));
      worst = Math.max(worst, Math.abs(own[i]![j]! - lean[i]![j]!));
    }
    expect(worst / scale, ['dx', 'dgamma', 'dbeta'][i]).toBeLessThan(1e-4);
  }
});
