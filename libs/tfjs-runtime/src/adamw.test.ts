// AdamW against independent references: PyTorch 1.13's AdamW algorithm (torch/optim/adamw.py,
// _single_tensor_adamw) written out here in float64; tfjs's own Adam (tf.train.adam, a separate
// implementation) when there is no weight decay; squaredNorm against tf.sum(tf.square(...)). Each
// runs on the cpu backend (the JS kernels) and, where it loads, on wasm (native with @sm-nas/native-kernels).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, squaredNorm } from './adamw.js';
import { wasmOrCpu } from './kernels/__fixtures__/backend.js';
import { random } from './kernels/__fixtures__/random.js';

let backends: string[] = ['cpu'];
beforeAll(async () => {
  if (await wasmOrCpu()) backends = ['cpu', 'wasm'];
});

/** PyTorch's AdamW step by step in float64: returns the parameters after each step. */
function torchAdamW(p0: Float32Array, grads: Float32Array[], h: { lr: number; b1: number; b2: number; eps: number; wd: number; scale: number }): Float64Array[] {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  const out: Float64Array[] = [];
  grads.forEach((g, s) => {
    const step = s + 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * h.scale;
      p[i] = p[i]! * (1 - h.lr * h.wd);
      m[i] = h.b1 * m[i]! + (1 - h.b1) * gi;
      v[i] = h.b2 * v[i]! + (1 - h.b2) * gi * gi;
      const bc1 = 1 - h.b1 ** step;
      const bc2 = 1 - h.b2 ** step;
      p[i] = p[i]! - (h.lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + h.eps));
    }
    out.push(Float64Array.from(p));
  });
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!)));
  expect(worst).toBeLessThan(tol);
}

describe('AdamW', () => {
  // 70,000 elements: above the native kernel's threshold for splitting over threads.
  for (const n of [37, 70_000]) {
    it(`follows PyTorch's AdamW over 4 steps, with decay and a gradient scale (${n} elements)`, async () => {
      const h = { lr: 3e-3, b1: 0.9, b2: 0.99, eps: 1e-8, wd: 0.05, scale: 0.5 };
      const p0 = random(n, 3);
      const grads = [1, 2, 3, 4].map((s) => random(n, 10 + s, 2));
      const expected = torchAdamW(p0, grads, h);
      for (const backend of backends) {
        await tf.setBackend(backend);
        const w = tf.variable(tf.tensor1d(p0), true, `p-${backend}-${n}`);
        const opt = new AdamW({ learningRate: h.lr, beta1: h.b1, beta2: h.b2, epsilon: h.eps, weightDecay: h.wd });
        grads.forEach((g, s) => {
          const gt = tf.tensor1d(g);
          opt.applyScaledGradients({ [w.name]: gt }, h.scale);
          gt.dispose();
          expectClose(w.dataSync(), expected[s]!, 2e-6);
        });
        opt.dispose();
        w.dispose();
      }
    });
  }

  it("equals tfjs's own Adam without weight decay, and leaves variables the predicate excludes undecayed", async () => {
    for (const backend of backends) {
      await tf.setBackend(backend);
      const init = random(24, 5);
      const a = tf.variable(tf.tensor2d(init, [4, 6]), true, `a-${backend}`);
      const b = tf.variable(tf.tensor2d(init, [4, 6]), true, `b-${backend}`);
      const bias = tf.variable(tf.tensor1d(init), true, `bias-${backend}`);
      const ref = tf.train.adam(1e-2, 0.9, 0.999, 1e-7);
      // Weight decay on: only the 1-D variable is excluded by the predicate, so it must follow tfjs's Adam.
      const ours = new AdamW({ learningRate: 1e-2, epsilon: 1e-7, weightDecay: 0.1, decays: (v) => v.shape.length > 1 });
      const plain = new AdamW({ learningRate: 1e-2, epsilon: 1e-7 });
      for (let s = 0; s < 5; s++) {
        const g = random(24, 40 + s, 3);
        tf.tidy(() => {
          // tfjs types the map as variables; any tensor is what it reads.
          ref.applyGradients({ [a.name]: tf.tensor2d(g, [4, 6]) } as unknown as Record<string, tf.Variable>);
          plain.applyGradients({ [b.name]: tf.tensor2d(g, [4, 6]) });
          ours.applyGradients({ [bias.name]: tf.tensor1d(g) });
        });
      }
      expectClose(b.dataSync(), a.dataSync(), 1e-5);
      expectClose(bias.dataSync(), a.dataSync(), 1e-5);
      for (const x of [ref, ours, plain, a, b, bias]) x.dispose();
    }
  });

  it('saves and restores its state: a restored optimiser continues the same trajectory', async () => {
    for (const backend of backends) {
      await tf.setBackend(backend);
      const init = random(10, 8);
      const x = tf.variable(tf.tensor1d(init), true, `x-${backend}`);
      const y = tf.variable(tf.tensor1d(init), true, `x-${backend}-copy`);
      const first = new AdamW({ learningRate: 0.1, weightDecay: 0.01 });
      const g0 = tf.tensor1d(random(10, 21));
      first.applyGradients({ [x.name]: g0 });
      y.assign(x);
      const saved = await first.getWeights();
      const second = new AdamW({ learningRate: 0.1, weightDecay: 0.01 });
      // Moments are keyed by variable name: rename them for the copy.
      await second.setWeights(saved.map((w) => ({ name: w.name.replace(x.name, y.name), tensor: w.tensor })));
      expect(second.iterations).toBe(1);
      const g1 = tf.tensor1d(random(10, 22));
      first.applyGradients({ [x.name]: g1 });
      second.applyGradients({ [y.name]: g1 });
      expectClose(y.dataSync(), x.dataSync(), 1e-7);
      for (const t of [first, second, x, y, g0, g1]) t.dispose();
    }
  });
});

describe('squaredNorm', () => {
  it('is the sum of squares of every element of every tensor', async () => {
    for (const backend of backends) {
      await tf.setBackend(backend);
      const tensors = [1, 300, 70_000, 5].map((n, i) => tf.tensor1d(random(n, 60 + i, 1.5)));
      let expected = 0;
      for (const t of tensors) expected += tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]!);
      const got = squaredNorm(tensors);
      expect(got.shape).toEqual([]);
      expect(Math.abs(got.dataSync()[0]! - expected) / expected).toBeLessThan(1e-5);
      got.dispose();
      expect(squaredNorm([]).dataSync()[0]).toBe(0);
      for (const t of tensors) t.dispose();
    }
  });
});
