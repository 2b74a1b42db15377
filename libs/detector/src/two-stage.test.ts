import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { countFlops } from '@sm-nas/flops';
import type { Neck, RpnKind } from '@sm-nas/arch';
import { deformConv2d } from './deform.js';
import { createDetector } from './detector.js';
import { roiLevel } from './executor.js';
import { levelBaseAnchors } from './rpn.js';
import { fixedBatch, fpn, testBackend, twoStageArch } from './testing.js';

beforeAll(async () => {
  await testBackend();
});

type Kernels = Awaited<ReturnType<typeof tf.profile>>['kernels'];

/** Multiply-adds of the convolution and matmul kernels tfjs ran, from their recorded shapes. */
function executedMultiplyAdds(kernels: Kernels): number {
  let total = 0;
  for (const k of kernels) {
    const out = k.outputShapes[0]!;
    const numel = out.reduce((a, b) => a * b, 1);
    const b = k.inputShapes[1]!;
    switch (k.name) {
      case 'Conv2D':
      case 'FusedConv2D':
      case 'SmNasGroupedConv2D': // libs/tfjs-runtime's native grouped convolution, filter [k, k, in/groups, out]
        total += numel * b[0]! * b[1]! * b[2]!;
        break;
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2D':
        total += numel * b[0]! * b[1]!;
        break;
      case 'BatchMatMul':
      case '_FusedMatMul': {
        // no transposes in the detector: a [.., m, k] x b [.., k, n]
        const a = k.inputShapes[0]!;
        total += numel * a[a.length - 1]!;
        break;
      }
      default:
        if (/conv|matmul/i.test(k.name) && !/__op$/.test(k.name)) throw new Error(`unexpected kernel ${k.name}`);
    }
  }
  return total;
}

describe('two-stage detectors execute what libs/flops counts', () => {
  const cases: Array<[string, Neck, RpnKind, 'faster_rcnn' | 'cascade_rcnn', number]> = [
    ['Faster R-CNN, RPN, FPN P2-P6', fpn(2, 6), 'rpn', 'faster_rcnn', 1],
    ['Cascade R-CNN x3, guided anchoring (deformable conv), FPN P3-P5', fpn(3, 5), 'guided_anchoring', 'cascade_rcnn', 3],
    ['Faster R-CNN, RPN, C4 (res5 head per RoI)', { kind: 'c4' }, 'rpn', 'faster_rcnn', 1],
    ['Cascade R-CNN x2, guided anchoring, C4', { kind: 'c4' }, 'guided_anchoring', 'cascade_rcnn', 2],
  ];
  it.each(cases)('%s: per image and per RoI, module by module', async (_name, neck, rpn, head, stages) => {
    const det = createDetector(twoStageArch('resnet18', neck, rpn, head, stages), {
      numClasses: 4, norm: 'group_norm', fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0,
    });
    const images = tf.randomNormal([2, 64, 64, 3]) as tf.Tensor4D;
    const rois = Float32Array.of(0, 2, 3, 30, 40, 0, 10, 10, 60, 62, 1, 0, 0, 12, 9, 1, 20, 4, 50, 30, 1, 1, 1, 63, 63);
    const r = rois.length / 5;
    const counted = countFlops(det.arch, { numClasses: 4, norm: 'group_norm', proposals: r });
    const perImage = counted.modules.filter((m) => m.perProposalMultiplyAdds === 0).reduce((a, m) => a + m.multiplyAdds, 0);
    let outputs: ReturnType<typeof det.forward> | undefined;
    const image = await tf.profile(() => {
      outputs = det.forward(images);
    });
    // per image: batch of 2
    expect(executedMultiplyAdds(image.kernels) / 2).toBe(perImage);
    for (let t = 1; t <= stages; t++) {
      const stage = await tf.profile(() => {
        const o = det.executor.runRoiStage(t, outputs!, rois);
        expect(o.cls.shape).toEqual([r, 5]);
        expect(o.reg.shape).toEqual([r, head === 'faster_rcnn' ? 16 : 4]);
        tf.dispose([o.cls, o.reg]);
      });
      const module = counted.modules.find((m) => m.name === `head.stage${t}`)!;
      expect(executedMultiplyAdds(stage.kernels)).toBe(module.multiplyAdds);
      expect(module.multiplyAdds).toBe(r * module.perProposalMultiplyAdds);
    }
    tf.dispose([...outputs!.values()].flatMap((m) => [...m.values()]));
    images.dispose();
    det.dispose();
  }, 120_000);
});

describe('two-stage pieces', () => {
  it('maps RoIs to FPN levels by mmdetection rule floor(log2(sqrt(wh) / 56))', () => {
    // SingleRoIExtractor.map_roi_levels with finest_scale 56: <112 -> 0, <224 -> 1, <448 -> 2, else 3
    expect(roiLevel(0, 0, 111, 111, 56, 4)).toBe(0);
    expect(roiLevel(0, 0, 112, 112, 56, 4)).toBe(1);
    expect(roiLevel(0, 0, 223, 223, 56, 4)).toBe(1);
    expect(roiLevel(0, 0, 300, 300, 56, 4)).toBe(2);
    expect(roiLevel(0, 0, 1000, 800, 56, 4)).toBe(3);
    expect(roiLevel(0, 0, 1000, 800, 56, 2)).toBe(1);
    expect(roiLevel(5, 5, 5, 5, 56, 4)).toBe(0);
  });

  it('generates mmdetection RPN base anchors (stride 4, scale 8, ratios 0.5/1/2)', () => {
    // AnchorGenerator(strides=[4], scales=[8], ratios=[0.5, 1, 2]).base_anchors[0] in mmdetection 2.x
    // (center offset 0): w = 32 / sqrt(r), h = 32 sqrt(r)
    const a = levelBaseAnchors(4, [8], [0.5, 1, 2]);
    const w0 = 32 / Math.sqrt(0.5);
    const h0 = 32 * Math.sqrt(0.5);
    expect([...a.subarray(0, 4)].map((v) => +v.toFixed(4))).toEqual([-w0 / 2, -h0 / 2, w0 / 2, h0 / 2].map((v) => +v.toFixed(4)));
    expect([...a.subarray(4, 8)]).toEqual([-16, -16, 16, 16]);
  });

  it('deformable convolution with zero offsets is the convolution; integer offsets shift its input', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 6, 7, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 8, 5], 0, 1, 'float32', 2) as tf.Tensor4D;
      const b = tf.randomNormal([5], 0, 1, 'float32', 3) as tf.Tensor1D;
      const spec = { kernel: 3, stride: 1, padding: 1, dilation: 1, deformGroups: 4 };
      const zero = tf.zeros([2, 6, 7, 2 * 4 * 9]) as tf.Tensor4D;
      const conv = tf.add(tf.conv2d(x, w, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), b);
      expect(tf.max(tf.abs(tf.sub(deformConv2d(x, zero, w, b, spec), conv))).dataSync()[0]).toBeLessThan(1e-4);
      // every sample moved by dx = +1: output column ox reads columns ox .. ox + 2, zero past the
      // right edge: the convolution padded 0 on the left and 2 on the right
      const dxOne = tf.tensor4d(Float32Array.from({ length: 2 * 6 * 7 * 72 }, (_, i) => (i % 2 === 1 ? 1 : 0)), [2, 6, 7, 72]);
      const expected = tf.add(tf.conv2d(x, w, 1, [[0, 0], [1, 1], [0, 2], [0, 0]]), b);
      expect(tf.max(tf.abs(tf.sub(deformConv2d(x, dxOne, w, b, spec), expected))).dataSync()[0]).toBeLessThan(1e-4);
    });
  });

  it('deformable convolution passes the gradient to its offsets (finite differences)', () => {
    const x = tf.randomNormal([1, 5, 5, 4], 0, 1, 'float32', 4) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 4, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const spec = { kernel: 3, stride: 1, padding: 1, dilation: 1, deformGroups: 2 };
    // fractional offsets in (0.05, 0.45): no sample crosses a pixel (the bilinear kinks) under +-h
    const offData = Float32Array.from({ length: 5 * 5 * 36 }, (_, i) => 0.25 + 0.2 * Math.sin(i));
    const f = (o: tf.Tensor) => tf.sum(tf.square(deformConv2d(x, o as tf.Tensor4D, w, undefined, spec)));
    const off = tf.tensor4d(offData, [1, 5, 5, 36]);
    const g = tf.grad(f)(off).dataSync();
    // offsets of interior output pixels (2, 2) and (1, 2), both groups, dy and dx
    for (const i of [432, 437, 450, 467, 255, 270]) {
      const h = 1e-2;
      const plus = Float32Array.from(offData);
      plus[i]! += h;
      const minus = Float32Array.from(offData);
      minus[i]! -= h;
      const fd = (f(tf.tensor4d(plus, [1, 5, 5, 36])).dataSync()[0]! - f(tf.tensor4d(minus, [1, 5, 5, 36])).dataSync()[0]!) / (2 * h);
      expect(g[i]!).toBeCloseTo(fd, 0);
      expect(Math.abs(g[i]! - fd)).toBeLessThan(0.02 * Math.max(1, Math.abs(fd)));
    }
    tf.dispose([x, w, off]);
  });

  it('frees every intermediate tensor (trainStep, loss, predict)', async () => {
    const det = createDetector(twoStageArch('resnet18', fpn(3, 5), 'guided_anchoring', 'cascade_rcnn', 2), {
      numClasses: 3, norm: 'group_norm', fidelity: { inputScale: 1, widthMultiplier: 0.25 }, twoStage: { rcnn: { sampleNum: 16 } },
    });
    const batch = fixedBatch(64);
    const opt = tf.train.sgd(0.01);
    await det.trainStep(opt, batch);
    const before = tf.memory().numTensors;
    await det.trainStep(opt, batch);
    const l = await det.loss(batch.images, batch.boxes.map((boxes, i) => ({ boxes, labels: batch.labels[i]! })));
    tf.dispose([l.total, ...Object.values(l.components)]);
    await det.predict(batch.images);
    expect(tf.memory().numTensors).toBe(before);
    batch.images.dispose();
    opt.dispose();
    det.dispose();
  }, 180_000);
});
