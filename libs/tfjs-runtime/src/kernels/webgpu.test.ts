// Every kernel the detectors train with, on the webgpu backend against the cpu backend, values and
// gradients: this package's WGSL kernels (multi-level RoIAlign, deformable sampling, AdamW, the
// squared norm) and the tfjs-backend-webgpu kernels that stand in for the wasm ones this package
// replaces (convolution gradients, max-pool gradient, segment sums, the composed norms).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, squaredNorm } from '../adamw.js';
import { conv2dBiasRelu } from '../conv-relu.js';
import { groupedConv2d } from '../grouped-conv.js';
import { batchNormTraining, groupNorm, weightStandardize } from '../norm.js';
import { backendInfo } from '../backend.js';
import { deviceIdle, kernelMs } from '../device-sync.js';
import { deformSample, type DeformSampleAttrs } from './deform-sample.js';
import { roiAlignLevels } from './roi-align.js';
import { expectClose } from './__fixtures__/close.js';
import { random } from './__fixtures__/random.js';
import { valuesOn } from './__fixtures__/webgpu.js';
import { startWebGpuForTests } from '../testing.js';

const gpu: { missing?: string } = { missing: 'not started' };
beforeAll(async () => {
  gpu.missing = await startWebGpuForTests('webgpu kernel tests');
}, 120_000);

/** The same computation on cpu and webgpu, compared output by output. */
async function sameOnBoth(what: string[], f: () => tf.Tensor[]): Promise<void> {
  if (gpu.missing) return;
  const ref = await valuesOn('cpu', f);
  const got = await valuesOn('webgpu', f);
  what.forEach((name, i) => expectClose(got[i]!, ref[i]!, name));
}

const t4 = (shape: [number, number, number, number], seed: number, scale = 1) => tf.tensor4d(random(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

describe('webgpu backend', () => {
  it('runs on an adapter and says which', () => {
    if (gpu.missing) return;
    const info = backendInfo()!;
    expect(info.name).toBe('webgpu');
    expect(info.adapter?.device).toBeTruthy();
    expect(tf.getBackend()).toBe('webgpu');
  });

  it('waits for the device and times kernels on it (timestamp queries)', async () => {
    if (gpu.missing) return;
    await tf.setBackend('webgpu');
    const x = t4([4, 32, 32, 32], 40);
    const f = t4([3, 3, 32, 32], 41);
    const y = tf.conv2d(x, f, 1, 'same');
    await deviceIdle();
    tf.dispose([y]);
    const ms = await kernelMs(() => tf.dispose(tf.conv2d(x, f, 1, 'same')));
    if (backendInfo()!.adapter!.features.includes('timestamp-query')) expect(ms).toBeGreaterThan(0);
    else expect(ms).toBeUndefined();
    tf.dispose([x, f]);
  });
});

describe('RoIAlign over FPN levels on webgpu', () => {
  const rois = Float32Array.of(
    0, 3, 5, 27, 19, // inside
    1, 0, 0, 63, 63, // the whole image
    1, 10.3, 2.7, 13.1, 30.2, // thin
    0, -6, -4, 12, 9, // partly outside
    2, 4, 4, 8, 8, // batch index out of range: zeros, no gradient
    0, 20, 22, 50, 61, // large
    1, 8, 8, 40, 24,
  );
  const levels = Int32Array.of(0, 2, 0, 1, 0, 2, 1);
  for (const samplingRatio of [0, 2]) {
    it(`forward and gradients of every level agree with cpu (sampling ratio ${samplingRatio})`, async () => {
      const attrs = { outputSize: 7, samplingRatio, spatialScales: [1 / 4, 1 / 8, 1 / 16], aligned: true };
      await sameOnBoth(['pooled', 'd level 0', 'd level 1', 'd level 2'], () => {
        const maps = [t4([2, 16, 16, 5], 1), t4([2, 8, 8, 5], 2), t4([2, 4, 4, 5], 3)];
        const dy = tf.tensor4d(random(7 * 49 * 5, 4), [7, 7, 7, 5]);
        const r = tf.tensor2d(rois, [7, 5]);
        const f = (...m: tf.Tensor[]) => tf.sum(tf.mul(roiAlignLevels(m as tf.Tensor4D[], r, levels, attrs), dy));
        return [roiAlignLevels(maps, r, levels, attrs), ...tf.grads(f)(maps)];
      });
    });
  }
});

describe('deformable sampling on webgpu', () => {
  it.each([
    { kernel: 3, stride: 1, padding: 1, dilation: 1, deformGroups: 4 },
    { kernel: 3, stride: 2, padding: 2, dilation: 2, deformGroups: 1 },
  ] as DeformSampleAttrs[])('columns and both gradients agree with cpu (%o)', async (attrs) => {
    const [n, h, w, c] = [2, 10, 12, 8];
    const side = (s: number) => Math.floor((s + 2 * attrs.padding - attrs.dilation * (attrs.kernel - 1) - 1) / attrs.stride) + 1;
    const [ho, wo] = [side(h), side(w)];
    const oc = 2 * attrs.deformGroups * 9;
    await sameOnBoth(['columns', 'dx', 'doffset'], () => {
      const x = t4([n, h, w, c], 5);
      const off = t4([n, ho, wo, oc], 6, 3);
      const dy = t4([n, ho, wo, 9 * c], 7);
      const grads = tf.grads((v: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(deformSample(v as tf.Tensor4D, o as tf.Tensor4D, attrs), dy)))([x, off]);
      return [deformSample(x, off, attrs), ...grads];
    });
  });
});

describe('optimiser kernels on webgpu', () => {
  it('squaredNorm of several tensors (one longer than a reduction grid) agrees with cpu', async () => {
    await sameOnBoth(['sum of squares'], () => [squaredNorm([tf.tensor1d(random(37, 1)), tf.tensor1d(random(300_001, 2)), tf.tensor2d(random(64, 3), [8, 8])])]);
  });

  it('four AdamW steps, with a number and with a tensor gradient scale, agree with cpu', async () => {
    if (gpu.missing) return;
    const run = async (backend: 'cpu' | 'webgpu', tensorScale: boolean) => {
      await tf.setBackend(backend);
      const v = tf.variable(tf.tensor1d(random(70_000, 8)), true, `w_${backend}_${tensorScale}`);
      const opt = new AdamW({ learningRate: 0.01, weightDecay: 0.05 });
      for (let step = 0; step < 4; step++) {
        const g = tf.tensor1d(random(70_000, 9 + step));
        const scale = tensorScale ? tf.scalar(0.5) : 0.5;
        opt.applyScaledGradients({ [v.name]: g }, scale);
        tf.dispose([g, ...(typeof scale === 'number' ? [] : [scale])]);
      }
      const out = (await v.data()) as Float32Array;
      v.dispose();
      opt.dispose();
      return out;
    };
    const ref = await run('cpu', false);
    expectClose(await run('webgpu', false), ref, 'number scale');
    expectClose(await run('webgpu', true), ref, 'tensor scale');
  });
});

describe('tfjs-backend-webgpu kernels the detectors train with agree with cpu', () => {
  it.each([
    { x: [2, 9, 11, 6], f: [3, 3, 6, 8], s: 2, pad: 1 },
    { x: [1, 8, 8, 16], f: [1, 1, 16, 4], s: 1, pad: 'same' },
    { x: [2, 7, 6, 3], f: [7, 7, 3, 4], s: 2, pad: 3 },
    // K = 4 x 34 x 30 = 4080 products: the filter gradient splits K over workgroups (2 chunks).
    { x: [4, 34, 30, 5], f: [3, 3, 5, 33], s: 1, pad: 'same' },
  ] as const)('conv2d, conv2dBiasRelu: value and gradients (%o)', async ({ x: xs, f: fs, s, pad }) => {
    await sameOnBoth(['conv dx', 'conv dfilter', 'fused y', 'fused dx', 'fused dfilter', 'fused dbias'], () => {
      const x = t4([...xs], 11);
      const f = t4([...fs], 12, 0.3);
      const bias = tf.tensor1d(random(fs[3], 13));
      const y = tf.conv2d(x, f, s, pad);
      const dy = tf.tensor(random(y.size, 14), y.shape);
      const conv = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), dy)))([x, f]);
      const fused = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(conv2dBiasRelu(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor1D, s, pad), dy)))([x, f, bias]);
      return [...conv, conv2dBiasRelu(x, f, bias, s, pad), ...fused];
    });
  });

  it('depthwise and grouped convolutions: gradients', async () => {
    await sameOnBoth(['depthwise dx', 'depthwise dfilter', 'grouped dx', 'grouped dfilter'], () => {
      const x = t4([2, 8, 8, 8], 15);
      const dw = t4([3, 3, 8, 1], 16);
      const gw = t4([3, 3, 2, 8], 17);
      const dyD = t4([2, 4, 4, 8], 18);
      const dyG = t4([2, 8, 8, 8], 19);
      const depthwise = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), dyD)))([x, dw]);
      const grouped = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(groupedConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same', 4), dyG)))([x, gw]);
      return [...depthwise, ...grouped];
    });
  });

  // The 2x4x4x1 case is the one in which tfjs-backend-wasm 4.22's own MaxPoolGrad misroutes a window.
  it.each([
    { x: [2, 9, 11, 5], k: 3, s: 2, pad: 1 },
    { x: [2, 4, 4, 1], k: 2, s: 2, pad: 'valid' },
  ] as const)('max pooling gradient (%o)', async (c) => {
    await sameOnBoth(['dx'], () => {
      const x = t4([...c.x], 23);
      const y = tf.maxPool(x, c.k, c.s, c.pad);
      const dy = tf.tensor(random(y.size, 24), y.shape);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.pad), dy)))(x)];
    });
  });

  it('unsorted segment sum', async () => {
    await sameOnBoth(['sum'], () => [tf.unsortedSegmentSum(tf.tensor2d(random(40, 25), [10, 4]), tf.tensor1d([0, 2, 1, 2, 0, 4, 4, 1, 3, 0], 'int32'), 5)]);
  });

  it('group norm with weight standardisation, and training batch norm: values and gradients', async () => {
    await sameOnBoth(['gn y', 'gn dx', 'gn dscale', 'gn doffset', 'ws dw', 'bn dx'], () => {
      const x = t4([2, 6, 6, 8], 26, 2);
      const scale = tf.tensor1d(random(8, 27));
      const offset = tf.tensor1d(random(8, 28));
      const dy = t4([2, 6, 6, 8], 29);
      const w = t4([3, 3, 8, 4], 30);
      const dyw = t4([3, 3, 8, 4], 31);
      const gn = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(groupNorm(a as tf.Tensor4D, b as tf.Tensor1D, c as tf.Tensor1D, 4, { relu: true }), dy)))([x, scale, offset]);
      const ws = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(weightStandardize(a), dyw)))(w);
      const bn = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(a as tf.Tensor4D, scale, offset).y, dy)))(x);
      return [groupNorm(x, scale, offset, 4, { relu: true }), ...gn, ws, bn];
    });
  });
});
