// RoIAlign against independent references: a linear ramp (bilinear interpolation of a linear
// function is exact, so every bin is the mean of its sample coordinates, computed by hand), tfjs's
// own cropAndResize on the cpu backend (same sample points when the sampling ratio is fixed and
// every sample lies inside the map), the adjoint identity <roiAlign(x), dy> = <x, grad> for the
// gradient, and the wasm backend against cpu.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { roiAlign, roiAlignLevels, type RoiAlignAttrs } from './roi-align.js';
import { wasmOrCpu } from './__fixtures__/backend.js';
import { random } from './__fixtures__/random.js';

let wasm = false;
beforeAll(async () => {
  wasm = await wasmOrCpu();
});

const ROIS = Float32Array.of(
  0, 3, 5, 27, 19, // inside
  1, 0, 0, 31, 31, // the whole map
  1, 10.3, 2.7, 13.1, 30.2, // thin
  0, -6, -4, 12, 9, // partly outside
  2, 4, 4, 8, 8, // batch index out of range: zeros, no gradient
);

describe('RoIAlign kernel', () => {
  it('averages the bilinear samples of each bin (mmcv aligned=True, adaptive sampling)', () => {
    tf.setBackend('cpu');
    // f(n, y, x, c) = x + 100 c: each output bin holds the mean x of its samples (+ 100 c).
    const [h, w, c] = [16, 20, 2];
    const data = new Float32Array(h * w * c);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) data[(y * w + x) * c + ch] = x + 100 * ch;
    const x = tf.tensor4d(data, [1, h, w, c]);
    const roi = [0, 4, 6, 28, 20]; // at scale 1/2: x from 1.5 to 13.5 (aligned: -0.5), 12 cells
    const out = roiAlign(x, tf.tensor2d(roi, [1, 5]), { outputSize: 3, samplingRatio: 0, spatialScale: 0.5, aligned: true }).dataSync();
    // width 12 / 3 bins = 4 cells per bin, ceil(12/3) = 4 samples at 1.5 + 4j + (i + 0.5): mean 1.5 + 4j + 2
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      expect(out[(i * 3 + j) * 2]).toBeCloseTo(1.5 + 4 * j + 2, 4);
      expect(out[(i * 3 + j) * 2 + 1]).toBeCloseTo(101.5 + 4 * j + 2, 3);
    }
    x.dispose();
  });

  it('equals cropAndResize + average pooling where every sample is inside the map', () => {
    tf.setBackend('cpu');
    const [n, h, w, c] = [2, 32, 32, 3];
    const rois = Float32Array.of(0, 3, 5, 27, 19, 1, 10.3, 2.7, 13.1, 30.2);
    const size = 4;
    const s = 2;
    tf.tidy(() => {
      const x = tf.tensor4d(random(n * h * w * c, 1), [n, h, w, c]);
      const got = roiAlign(x, tf.tensor2d(rois, [2, 5]), { outputSize: size, samplingRatio: s, spatialScale: 1, aligned: true });
      // samples of RoI side L at start - 0.5 + (k + 0.5) L / (size s), k = 0..size*s-1; cropAndResize
      // samples a normalised box [a, b] at a (H-1) + k (b - a)(H - 1) / (m - 1).
      const m = size * s;
      const boxes: number[] = [];
      for (let r = 0; r < 2; r++) {
        const [x1, y1, x2, y2] = [rois[5 * r + 1]!, rois[5 * r + 2]!, rois[5 * r + 3]!, rois[5 * r + 4]!];
        const py = (k: number) => y1 - 0.5 + ((k + 0.5) * (y2 - y1)) / m;
        const px = (k: number) => x1 - 0.5 + ((k + 0.5) * (x2 - x1)) / m;
        boxes.push(py(0) / (h - 1), px(0) / (w - 1), py(m - 1) / (h - 1), px(m - 1) / (w - 1));
      }
      const crops = tf.image.cropAndResize(x, tf.tensor2d(boxes, [2, 4]), [0, 1], [m, m], 'bilinear');
      const expected = tf.avgPool(crops, s, s, 'valid');
      expect(got.shape).toEqual(expected.shape);
      expect(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]).toBeLessThan(1e-5);
    });
  });

  const attrs: RoiAlignAttrs = { outputSize: 7, samplingRatio: 0, spatialScale: 0.5, aligned: true };
  const run = (backend: string): Float32Array[] => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor4d(random(2 * 16 * 16 * 5, 2), [2, 16, 16, 5]);
      const rois = tf.tensor2d(ROIS, [5, 5]);
      const dy = tf.tensor4d(random(5 * 7 * 7 * 5, 3), [5, 7, 7, 5]);
      const y = roiAlign(x, rois, attrs);
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(roiAlign(a as tf.Tensor4D, rois, attrs), dy)))(x);
      return [y, g, tf.sum(tf.mul(y, dy)), tf.sum(tf.mul(x, g))].map((t) => t.dataSync() as Float32Array);
    });
  };

  it('has the adjoint gradient: <roiAlign(x), dy> = <x, dL/dx>', () => {
    const [y, g, forward, adjoint] = run('cpu');
    expect(adjoint![0]).toBeCloseTo(forward![0]!, 3);
    // the out-of-range batch index pools nothing
    expect(Math.max(...y!.subarray(4 * 49 * 5).map(Math.abs))).toBe(0);
    expect(Math.max(...g!.map(Math.abs))).toBeGreaterThan(0);
  });

  it('runs the same on wasm as on cpu', () => {
    if (!wasm) return;
    const cpu = run('cpu');
    const w = run('wasm');
    for (let i = 0; i < 2; i++) {
      expect(w[i]!.length).toBe(cpu[i]!.length);
      let worst = 0;
      for (let j = 0; j < cpu[i]!.length; j++) worst = Math.max(worst, Math.abs(w[i]![j]! - cpu[i]![j]!));
      expect(worst, ['forward', 'gradient'][i]).toBeLessThan(1e-5);
    }
    tf.setBackend('wasm');
  });

  // With @sm-nas/native-kernels the wasm kernels are native (vectorised channels, RoIs and channel blocks
  // over threads): many RoIs of every size, 64 channels, both pixel models and sampling modes.
  it.each([
    { samplingRatio: 0, aligned: true, outputSize: 7, spatialScale: 0.25 },
    { samplingRatio: 2, aligned: false, outputSize: 7, spatialScale: 0.25 },
    { samplingRatio: 0, aligned: true, outputSize: 14, spatialScale: 1 / 16 },
  ])('runs the same on wasm as on cpu at detector sizes (%o)', (mode) => {
    if (!wasm) return;
    const [n, h, w, c, r] = [3, 24, 20, 64, 300];
    const u = random(r * 4, 7);
    const rois = new Float32Array(r * 5);
    for (let i = 0; i < r; i++) {
      const cx = (u[4 * i]! + 1) * 45, cy = (u[4 * i + 1]! + 1) * 50;
      const bw = 2 + (u[4 * i + 2]! + 1) * 40, bh = 2 + (u[4 * i + 3]! + 1) * 40;
      rois.set([i % n, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 5 * i);
    }
    const a: RoiAlignAttrs = mode;
    const size = a.outputSize;
    const on = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(random(n * h * w * c, 8), [n, h, w, c]);
        const rt = tf.tensor2d(rois, [r, 5]);
        const dy = tf.tensor4d(random(r * size * size * c, 9), [r, size, size, c]);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(roiAlign(v as tf.Tensor4D, rt, a), dy)))(x);
        return [roiAlign(x, rt, a), g].map((t) => t.dataSync() as Float32Array);
      });
    };
    const cpu = on('cpu');
    const got = on('wasm');
    for (let i = 0; i < 2; i++) {
      let worst = 0;
      for (let j = 0; j < cpu[i]!.length; j++) worst = Math.max(worst, Math.abs(got[i]![j]! - cpu[i]![j]!));
      expect(worst, ['forward', 'gradient'][i]).toBeLessThan(1e-4);
    }
    tf.setBackend('wasm');
  });

  // Several levels in one call (the FPN heads): each row equals the single-level RoIAlign of its
  // RoI on its level, and each level's gradient equals the single-level gradient of that level's
  // RoIs; on cpu (the JS kernel) and wasm (native with @sm-nas/native-kernels).
  it.each(['cpu', 'wasm'])('pools each RoI from its own level, in RoI order, with per-level gradients (%s)', (backend) => {
    if (backend === 'wasm' && !wasm) return;
    tf.setBackend(backend);
    const [n, c, r] = [2, 16, 40];
    const sides = [32, 16, 8];
    const scales = [1 / 4, 1 / 8, 1 / 16];
    const u = random(r * 5, 11);
    const rois = new Float32Array(r * 5);
    const levels = new Int32Array(r);
    for (let i = 0; i < r; i++) {
      const cx = (u[5 * i]! + 1) * 60, cy = (u[5 * i + 1]! + 1) * 60;
      const bw = 4 + (u[5 * i + 2]! + 1) * 50, bh = 4 + (u[5 * i + 3]! + 1) * 50;
      rois.set([i % n, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 5 * i);
      levels[i] = Math.floor((u[5 * i + 4]! + 1) * 1.5) % 3;
    }
    const attrs = { outputSize: 7, samplingRatio: 0, spatialScales: scales, aligned: true };
    tf.tidy(() => {
      const maps = sides.map((s, l) => tf.tensor4d(random(n * s * s * c, 20 + l), [n, s, s, c]));
      const dy = tf.tensor4d(random(r * 49 * c, 30), [r, 7, 7, c]);
      const rt = tf.tensor2d(rois, [r, 5]);
      const y = roiAlignLevels(maps, rt, levels, attrs).dataSync();
      const grads = tf.grads((...ms: tf.Tensor[]) => tf.sum(tf.mul(roiAlignLevels(ms as tf.Tensor4D[], rt, levels, attrs), dy)))(maps).map((g) => g.dataSync());
      const dys = dy.dataSync();
      sides.forEach((_, l) => {
        const rows = [...levels.keys()].filter((i) => levels[i] === l);
        expect(rows.length).toBeGreaterThan(0);
        const sub = tf.tensor2d(Float32Array.from(rows.flatMap((i) => [...rois.subarray(5 * i, 5 * i + 5)])), [rows.length, 5]);
        const one = { outputSize: 7, samplingRatio: 0, spatialScale: scales[l]!, aligned: true };
        const ref = roiAlign(maps[l]!, sub, one).dataSync();
        rows.forEach((i, j) => {
          for (let k = 0; k < 49 * c; k++) expect(y[i * 49 * c + k]).toBe(ref[j * 49 * c + k]);
        });
        const subDy = tf.tensor4d(Float32Array.from(rows.flatMap((i) => [...dys.subarray(i * 49 * c, (i + 1) * 49 * c)])), [rows.length, 7, 7, c]);
        const refGrad = tf.grad((m: tf.Tensor) => tf.sum(tf.mul(roiAlign(m as tf.Tensor4D, sub, one), subDy)))(maps[l]!).dataSync();
        let worst = 0;
        for (let k = 0; k < refGrad.length; k++) worst = Math.max(worst, Math.abs(grads[l]![k]! - refGrad[k]!));
        expect(worst, `level ${l} gradient`).toBeLessThan(1e-5);
      });
    });
    tf.setBackend(wasm ? 'wasm' : 'cpu');
  });
});
