// Deformable im2col against independent references: with zero offsets it is plain im2col, indexed
// by hand here (stride, padding, dilation, zero outside the map); the input gradient satisfies the
// adjoint identity <cols(x), dy> = <x, dL/dx> (the op is linear in x); the offsets' gradient
// matches central finite differences; and the wasm backend (native with @sm-nas/native-kernels) matches cpu.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { deformSample, type DeformSampleAttrs } from './deform-sample.js';
import { wasmOrCpu } from './__fixtures__/backend.js';
import { random } from './__fixtures__/random.js';

let wasm = false;
beforeAll(async () => {
  wasm = await wasmOrCpu();
});

const outSide = (size: number, a: DeformSampleAttrs) => Math.floor((size + 2 * a.padding - a.dilation * (a.kernel - 1) - 1) / a.stride) + 1;

describe('deformable im2col kernel', () => {
  it('is plain im2col with zero offsets', () => {
    tf.setBackend('cpu');
    const a: DeformSampleAttrs = { kernel: 3, stride: 2, padding: 2, dilation: 2, deformGroups: 2 };
    const [n, h, w, c] = [2, 7, 9, 4];
    const [ho, wo] = [outSide(h, a), outSide(w, a)];
    const xs = random(n * h * w * c, 1);
    const cols = tf.tidy(() => deformSample(tf.tensor4d(xs, [n, h, w, c]), tf.zeros([n, ho, wo, 2 * 2 * 9]) as tf.Tensor4D, a).dataSync());
    expect(cols.length).toBe(n * ho * wo * 9 * c);
    for (let b = 0; b < n; b++) for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++) {
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let ch = 0; ch < c; ch++) {
        const y = oy * 2 - 2 + ky * 2;
        const x = ox * 2 - 2 + kx * 2;
        const expected = y >= 0 && y < h && x >= 0 && x < w ? xs[((b * h + y) * w + x) * c + ch]! : 0;
        expect(cols[(((b * ho + oy) * wo + ox) * 9 + ky * 3 + kx) * c + ch]).toBeCloseTo(expected, 6);
      }
    }
  });

  const a: DeformSampleAttrs = { kernel: 3, stride: 1, padding: 1, dilation: 1, deformGroups: 2 };
  const [n, h, w, c] = [1, 5, 6, 4];
  const oc = 2 * 2 * 9;
  // Offsets up to +-2.5: some samples land past the border and read 0, some corners outside.
  const offData = random(n * h * w * oc, 2, 2.5);
  const dyData = random(n * h * w * 9 * c, 3);
  const xData = random(n * h * w * c, 4);

  it('has the adjoint input gradient: <cols(x), dy> = <x, dL/dx>', () => {
    tf.setBackend('cpu');
    tf.tidy(() => {
      const off = tf.tensor4d(offData, [n, h, w, oc]);
      const dy = tf.tensor4d(dyData, [n, h, w, 9 * c]);
      const x = tf.tensor4d(xData, [n, h, w, c]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(deformSample(v as tf.Tensor4D, off, a), dy)))(x);
      const forward = tf.sum(tf.mul(deformSample(x, off, a), dy)).dataSync()[0]!;
      expect(tf.sum(tf.mul(x, g)).dataSync()[0]).toBeCloseTo(forward, 3);
      expect(Math.max(...g.dataSync().map(Math.abs))).toBeGreaterThan(0);
    });
  });

  it('passes the gradient to its offsets (central finite differences)', () => {
    tf.setBackend('cpu');
    // fractional parts kept in (0.05, 0.45) so no sample crosses a pixel (a bilinear kink) under +-h
    const smooth = Float32Array.from(offData, (v) => Math.trunc(v) + (v < 0 ? -1 : 0) + 0.25 + 0.2 * Math.sin(v * 7));
    const x = tf.tensor4d(xData, [n, h, w, c]);
    const dy = tf.tensor4d(dyData, [n, h, w, 9 * c]);
    const f = (o: tf.Tensor) => tf.sum(tf.mul(deformSample(x, o as tf.Tensor4D, a), dy));
    const g = tf.grad(f)(tf.tensor4d(smooth, [n, h, w, oc])).dataSync();
    let checked = 0;
    for (let i = 0; i < smooth.length; i += 7) {
      const eps = 1e-2;
      const at = (d: number) => {
        const o = Float32Array.from(smooth);
        o[i]! += d;
        return tf.tidy(() => f(tf.tensor4d(o, [n, h, w, oc])).dataSync()[0]!);
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      expect(Math.abs(g[i]! - fd), `offset ${i}`).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
      if (fd !== 0) checked++;
    }
    expect(checked).toBeGreaterThan(10);
    tf.dispose([x, dy]);
  });

  // With @sm-nas/native-kernels the wasm kernels are native (vectorised channels, pixels and channel blocks
  // over threads): GA-RPN's shape (4 groups, 3x3) at 64 channels, and a strided dilated case.
  it.each([
    { kernel: 3, stride: 1, padding: 1, dilation: 1, deformGroups: 4 },
    { kernel: 3, stride: 2, padding: 2, dilation: 2, deformGroups: 1 },
  ])('runs the same on wasm as on cpu at detector sizes (%o)', (attrs) => {
    if (!wasm) return;
    const [bn, bh, bw, bc] = [2, 20, 24, 64];
    const [ho, wo] = [outSide(bh, attrs), outSide(bw, attrs)];
    const boc = 2 * attrs.deformGroups * 9;
    const on = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(random(bn * bh * bw * bc, 5), [bn, bh, bw, bc]);
        const off = tf.tensor4d(random(bn * ho * wo * boc, 6, 3), [bn, ho, wo, boc]);
        const dy = tf.tensor4d(random(bn * ho * wo * 9 * bc, 7), [bn, ho, wo, 9 * bc]);
        const grads = tf.grads((v: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(deformSample(v as tf.Tensor4D, o as tf.Tensor4D, attrs), dy)))([x, off]);
        return [deformSample(x, off, attrs), ...grads].map((t) => t.dataSync() as Float32Array);
      });
    };
    const cpu = on('cpu');
    const got = on('wasm');
    ['forward', 'input gradient', 'offset gradient'].forEach((what, i) => {
      expect(got[i]!.length).toBe(cpu[i]!.length);
      let worst = 0;
      for (let j = 0; j < cpu[i]!.length; j++) worst = Math.max(worst, Math.abs(got[i]![j]! - cpu[i]![j]!) / Math.max(1, Math.abs(cpu[i]![j]!)));
      expect(worst, what).toBeLessThan(1e-4);
    });
    tf.setBackend('wasm');
  });

  it('names the mismatch when the offsets do not fit the kernel', () => {
    tf.setBackend('cpu');
    expect(() => deformSample(tf.zeros([1, 4, 4, 4]) as tf.Tensor4D, tf.zeros([1, 4, 4, 18]) as tf.Tensor4D, a)).toThrow(/18 offset channels for 2 groups of a 3x3 kernel over 4 channels/);
  });
});
