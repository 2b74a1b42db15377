import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { countFlops } from '@sm-nas/flops';
import type { NormKind } from '@sm-nas/arch/graph';
import { groupedConv2d } from './conv.js';
import { createDetector } from './detector.js';
import { standardize } from './executor.js';
import { fpn, retinaArch, testBackend } from './testing.js';

beforeAll(async () => {
  await testBackend();
});

/** Multiply-adds of the convolution and matmul kernels tfjs ran, from their recorded shapes. */
function executedMultiplyAdds(kernels: tf.TensorContainer[] | Awaited<ReturnType<typeof tf.profile>>['kernels']): number {
  let total = 0;
  for (const k of kernels as Awaited<ReturnType<typeof tf.profile>>['kernels']) {
    const out = k.outputShapes[0]!;
    const numel = out.reduce((a, b) => a * b, 1);
    const filter = k.inputShapes[1]!;
    switch (k.name) {
      case 'Conv2D':
      case 'FusedConv2D':
      case 'SmNasGroupedConv2D': // libs/tfjs-runtime's native grouped convolution, filter [k, k, in/groups, out]
        total += numel * filter[0]! * filter[1]! * filter[2]!;
        break;
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2D':
        total += numel * filter[0]! * filter[1]!;
        break;
      case 'BatchMatMul':
      case '_FusedMatMul':
        throw new Error('no matmul expected in a RetinaNet');
      default:
        if (/conv|matmul/i.test(k.name) && !/__op$/.test(k.name)) throw new Error(`unexpected kernel ${k.name}`);
    }
  }
  return total;
}

describe('executor', () => {
  const cases: Array<[string, ReturnType<typeof retinaArch>, NormKind]> = [
    ['ResNet-18 FPN P3-P6, GN+WS', retinaArch('resnet18', fpn(3, 6)), 'group_norm'],
    ['ResNeXt-50 FPN P2-P5 (grouped), frozen BN', retinaArch('resnext50_32x4d', fpn(2, 5)), 'frozen_batch_norm'],
    ['MobileNetV2 FPN P1-P6 (depthwise), BN', retinaArch('mobilenet_v2', fpn(1, 6)), 'batch_norm'],
    ['ResNet-50 C4, GN+WS', retinaArch('resnet50', { kind: 'c4' }), 'group_norm'],
  ];
  it.each(cases)('executes exactly the multiply-adds libs/flops counts: %s', async (_name, arch, norm) => {
    const det = createDetector(arch, { numClasses: 5, norm, fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0 });
    const images = tf.randomNormal([2, 64, 64, 3]) as tf.Tensor4D;
    const profile = await tf.profile(() => {
      tf.dispose([...det.forward(images).values()].flatMap((m) => [...m.values()]));
    });
    const counted = countFlops(det.arch, { numClasses: 5, norm });
    expect(executedMultiplyAdds(profile.kernels) / 2).toBe(counted.multiplyAdds);
    images.dispose();
    det.dispose();
  });

  it('frees every intermediate tensor (forward, loss, trainStep, predict)', async () => {
    const det = createDetector(retinaArch('resnet18', fpn(3, 5)), { numClasses: 3, norm: 'group_norm', fidelity: { inputScale: 1, widthMultiplier: 0.25 } });
    const images = tf.randomNormal([2, 64, 64, 3]) as tf.Tensor4D;
    const opt = tf.train.sgd(0.01);
    await det.trainStep(opt, { images, boxes: [Float32Array.of(2, 2, 30, 30), Float32Array.of()], labels: [Int32Array.of(1), Int32Array.of()] });
    const before = tf.memory().numTensors;
    await det.trainStep(opt, { images, boxes: [Float32Array.of(2, 2, 30, 30), Float32Array.of()], labels: [Int32Array.of(1), Int32Array.of()] });
    const l = await det.loss(images, [{ boxes: Float32Array.of(2, 2, 30, 30), labels: Int32Array.of(1) }, { boxes: Float32Array.of(), labels: Int32Array.of() }]);
    tf.dispose([l.total, ...Object.values(l.components)]);
    await det.predict(images);
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
    det.dispose();
  });

  it('inference folds batch norm once, and follows the parameters when they change', async () => {
    const arch = retinaArch('resnet18', fpn(3, 5));
    const options = { numClasses: 3, norm: 'batch_norm' as const, fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0 };
    const det = createDetector(arch, options);
    const images = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const run = (d: ReturnType<typeof createDetector>) => {
      const out = d.forward(images);
      const values = [...out.values()].flatMap((m) => [...m.values()]).map((t) => t.dataSync().slice());
      tf.dispose([...out.values()].flatMap((m) => [...m.values()]));
      return values;
    };
    const first = run(det);
    const tensorsAfterFirst = tf.memory().numTensors;
    const folds = (await tf.profile(() => void run(det))).kernels.filter((k) => k.name === 'Rsqrt').length;
    expect(folds).toBe(0); // the second pass reuses every folded filter
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    expect(run(det)).toEqual(first);
    // New running statistics (what loading a checkpoint does): the next pass must use them, as a
    // detector built with them from the start does.
    const changed = new Map([...(await det.getWeights())].map(([k, v]) => [k, k.endsWith('running_var') ? { ...v, data: v.data.map((x) => 4 * x) } : v]));
    det.setWeights(changed);
    const fresh = createDetector(arch, { ...options, seed: 1 });
    fresh.setWeights(changed, true);
    const after = run(det);
    expect(after).toEqual(run(fresh));
    expect(after).not.toEqual(first);
    fresh.dispose();
    det.dispose();
    images.dispose();
  });

  it('groupedConv2d equals a convolution with a block-diagonal filter', async () => {
    for (const [cin, cout, groups, stride] of [[8, 16, 2, 1], [64, 64, 32, 2], [12, 6, 3, 2], [128, 128, 4, 1]] as const) {
      const x = tf.randomNormal([2, 9, 7, cin], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, cin / groups, cout], 0, 1, 'float32', 2) as tf.Tensor4D;
      const wd = await w.array();
      const dense = new Float32Array(9 * cin * cout);
      const cinG = cin / groups;
      const coutG = cout / groups;
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let i = 0; i < cinG; i++) for (let o = 0; o < cout; o++) {
        const g = Math.floor(o / coutG);
        dense[((ky * 3 + kx) * cin + g * cinG + i) * cout + o] = wd[ky]![kx]![i]![o]!;
      }
      const expected = tf.conv2d(x, tf.tensor4d(dense, [3, 3, cin, cout]), stride, 1);
      const got = groupedConv2d(x, w, stride, 1, groups);
      expect(got.shape).toEqual(expected.shape);
      expect(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]).toBeLessThan(1e-3);
      tf.dispose([x, w, expected, got]);
    }
  });

  it('standardises weights per output channel (mmcv conv_ws_2d: unbiased std + eps)', () => {
    const w = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]); // out channel 0: 1,3,5,7; 1: 2,4,6,8
    const s = standardize(w).dataSync();
    const std = Math.sqrt(((3 ** 2 + 1 + 1 + 3 ** 2) / 3)); // deviations -3,-1,1,3, n-1 = 3
    expect(s[0]).toBeCloseTo(-3 / (std + 1e-5), 5);
    expect(s[1]).toBeCloseTo(-3 / (std + 1e-5), 5);
    expect(s[6]).toBeCloseTo(3 / (std + 1e-5), 5);
  });

  it('folds frozen batch norm into the convolution: same features as the unfolded norm', async () => {
    // Same weights, once folded (frozen_batch_norm, inference batch_norm) and once as GN-free
    // reference: running stats (mean m, var v) on every BN make y = (conv - m) / sqrt(v + eps).
    const arch = retinaArch('resnet18', fpn(3, 4));
    const options = { numClasses: 2, fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 3 };
    const frozen = createDetector(arch, { ...options, norm: 'frozen_batch_norm' });
    const bn = createDetector(arch, { ...options, norm: 'batch_norm' });
    const w = await frozen.getWeights();
    for (const [name, t] of w) {
      if (name.endsWith('running_mean')) t.data.fill(0.1);
      if (name.endsWith('running_var')) t.data.fill(2);
      if (name.endsWith('bn1.weight')) t.data.fill(1.5);
    }
    frozen.setWeights(w);
    bn.setWeights(w, true);
    const images = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const a = frozen.forward(images).get('features')!.get(3)!;
    const b = bn.forward(images).get('features')!.get(3)!;
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-4);
    // and the statistics really act: a different mean changes the features
    for (const [name, t] of w) if (name.endsWith('running_mean')) t.data.fill(-0.3);
    bn.setWeights(w);
    const c = bn.forward(images).get('features')!.get(3)!;
    expect(tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]).toBeGreaterThan(1e-3);
    frozen.dispose();
    bn.dispose();
  });

  it('records the fidelity it was built at', () => {
    const arch = retinaArch('resnet50', fpn(3, 6), 800);
    const det = createDetector(arch, { numClasses: 80, norm: 'group_norm', fidelity: { inputScale: 0.16, widthMultiplier: 0.5 } });
    expect(det.fidelity).toEqual({ inputScale: 0.16, widthMultiplier: 0.5 });
    expect(det.arch.input).toEqual({ widthPx: 128, heightPx: 128 });
    expect(det.arch.backbone.baseChannels).toBe(32);
    expect(det.arch.neck).toMatchObject({ channels: 128 });
    expect(det.arch.head.channels).toBe(128);
    expect(det.sourceArch).toBe(arch);
    det.dispose();
  });

});
