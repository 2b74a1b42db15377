import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignAnchors, baseAnchors, decodeBox, encodeBox, gridAnchors, iou } from './boxes.js';
import { levelBaseAnchors, RPN_ASSIGNER, shiftAnchors } from './rpn.js';
import { decodeBoxes, giouLossSum, sigmoidFocalLossSum, smoothL1Sum } from './losses.js';
import { testBackend } from './testing.js';

beforeAll(async () => {
  await testBackend();
});

describe('anchors (mmdetection AnchorGenerator, octave_base_scale 4, 3 scales, ratios 0.5/1/2)', () => {
  it('gives the base anchors of stride 8', () => {
    const a = baseAnchors(8);
    expect(a.length).toBe(36);
    // ratio 0.5 (h/w), scale 4: w = 8 * sqrt(2) * 4 = 45.2548, h = 22.6274 (mmdetection prints
    // [-22.6274, -11.3137, 22.6274, 11.3137] for its first RetinaNet anchor at stride 8).
    expect([...a.slice(0, 4)].map((v) => +v.toFixed(4))).toEqual([-22.6274, -11.3137, 22.6274, 11.3137]);
    // ratio 1, scale 4 * 2^(1/3) = 5.0397: side 40.3175
    expect(a[4 * 4 + 2]).toBeCloseTo(20.1587, 3);
    expect(a[4 * 4 + 3]).toBeCloseTo(20.1587, 3);
    // ratio 2, scale 4 * 2^(2/3): h = 8 * sqrt(2) * 6.3496 = 71.84
    expect(a[8 * 4 + 3]! - a[8 * 4 + 1]!).toBeCloseTo(71.8376, 3);
  });

  it('places them at x * stride, y * stride, location-major, levels concatenated', () => {
    const all = gridAnchors([{ level: 3, height: 2, width: 3 }, { level: 4, height: 1, width: 1 }]);
    expect(all.length / 4).toBe((6 + 1) * 9);
    const base = baseAnchors(8);
    const i = (1 * 3 + 2) * 9 + 4; // row 1, column 2, anchor 4
    expect([...all.slice(4 * i, 4 * i + 4)]).toEqual([base[16]! + 16, base[17]! + 8, base[18]! + 16, base[19]! + 8]);
    const j = 6 * 9; // first anchor of level 4 at (0, 0)
    expect([...all.slice(4 * j, 4 * j + 4)]).toEqual([...baseAnchors(16).slice(0, 4)]);
  });
});

describe('MaxIoUAssigner (pos 0.5, neg 0.4, each gt its best anchors)', () => {
  it('assigns hand-computed cases', () => {
    const gts = Float32Array.of(0, 0, 10, 10, 100, 100, 110, 110);
    const anchors = Float32Array.of(
      0, 0, 10, 20, //     IoU 0.5 with gt 0            -> positive (1)
      5, 0, 15, 10, //     1/3                          -> background
      0, 0, 10, 22, //     0.4545                       -> ignored
      100, 100, 130, 130, // 0.111 with gt 1, its best  -> positive (2) by the low-quality rule
      200, 200, 210, 210, // 0                          -> background
      0, 0, 20, 10, //     0.5, ties gt 0's best        -> positive (1)
    );
    expect([...assignAnchors(anchors, gts)]).toEqual([1, 0, -1, 2, 0, 1]);
  });

  it('lets a later gt take an anchor it ties for best, and marks all background without gts', () => {
    const anchors = Float32Array.of(0, 0, 10, 10);
    expect([...assignAnchors(anchors, Float32Array.of(0, 0, 10, 30, 0, 0, 30, 10))]).toEqual([2]);
    expect([...assignAnchors(anchors, new Float32Array(0))]).toEqual([0]);
    // a gt overlapping nothing takes no anchor
    expect([...assignAnchors(anchors, Float32Array.of(50, 50, 60, 60))]).toEqual([0]);
  });
});

describe("the RPN's low-quality matches (mmdetection min_pos_iou; 0 is torchvision's allow_low_quality_matches)", () => {
  it('give a box smaller than every anchor its best anchors at min_pos_iou 0, none at the RPN default 0.3', () => {
    // P2 (stride 4) anchors of scale 8 on a 4x4 grid: squares of side 32 and 0.5 / 2 ratio boxes.
    const anchors = shiftAnchors({ level: 2, height: 4, width: 4 }, levelBaseAnchors(4, [8], [0.5, 1, 2]));
    // A 10x10 box: every anchor that contains it has IoU 100 / 1024 (all have area 1024), the best.
    const gt = [-1, -1, 9, 9];
    const a = assignAnchors(anchors, gt, { ...RPN_ASSIGNER, minPosIou: 0 });
    const ious = Array.from({ length: anchors.length / 4 }, (_, i) => iou(anchors, i, gt, 0));
    const best = Math.max(...ious);
    expect(best).toBeCloseTo(100 / 1024, 6);
    expect([...a.keys()].filter((i) => a[i]! > 0)).toEqual([...ious.keys()].filter((i) => Math.fround(ious[i]!) === Math.fround(best))); // ties compared as the assigner stores them (float32)
    expect([...a].filter((v) => v > 0).length).toBeGreaterThan(0);
    expect(RPN_ASSIGNER.minPosIou).toBeGreaterThan(best);
    expect([...assignAnchors(anchors, gt, RPN_ASSIGNER)].filter((v) => v > 0)).toEqual([]);
  });
});

describe('DeltaXYWHBBoxCoder (means 0, stds 1)', () => {
  it('encodes and decodes hand-computed deltas', () => {
    const anchor = Float32Array.of(0, 0, 10, 20);
    const gt = Float32Array.of(0, 0, 10, 10);
    const d = new Float32Array(4);
    encodeBox(anchor, 0, gt, 0, d, 0);
    // centres (5, 10) -> (5, 5), sizes 10x20 -> 10x10
    expect(d[0]).toBeCloseTo(0, 6);
    expect(d[1]).toBeCloseTo(-0.25, 6);
    expect(d[2]).toBeCloseTo(0, 6);
    expect(d[3]).toBeCloseTo(Math.log(0.5), 6);
    const back = new Float32Array(4);
    decodeBox(anchor, 0, d, 0, back, 0, 100, 100);
    [0, 0, 10, 10].forEach((v, i) => expect(back[i]).toBeCloseTo(v, 5));
    const t = decodeBoxes(tf.tensor2d(anchor, [1, 4]), tf.tensor2d(d, [1, 4])).dataSync();
    [0, 0, 10, 10].forEach((v, i) => expect(t[i]).toBeCloseTo(v, 4));
  });

  it('clips dw/dh to |log(16/1000)| and boxes to the image', () => {
    const out = new Float32Array(4);
    decodeBox(Float32Array.of(10, 10, 20, 20), 0, Float32Array.of(0, 0, 10, 0), 0, out, 0, 50, 40);
    // w = 10 * 1000/16 = 625 around x = 15 -> clipped to [0, 50]; h unchanged
    expect([...out]).toEqual([0, 10, 50, 20]);
  });
});

describe('losses', () => {
  // mmdetection py_sigmoid_focal_loss, element by element
  const focal = (x: number, t: number): number => {
    const p = 1 / (1 + Math.exp(-x));
    const pt = t ? p : 1 - p;
    const alphaT = t ? 0.25 : 0.75;
    return -alphaT * (1 - pt) ** 2 * Math.log(pt);
  };

  it('focal loss: alpha 0.25, gamma 2, hand-computed values', () => {
    expect(focal(0, 1)).toBeCloseTo(0.0433217, 6); // 0.25 * 0.25 * ln 2
    expect(focal(0, 0)).toBeCloseTo(0.1299651, 6); // 0.75 * 0.25 * ln 2
    // anchors: 0 positive for class 0, 1 background, 2 ignored; K = 2
    const logits = tf.tensor2d([[0, 2], [-1, 0.5], [5, 5]]);
    const got = sigmoidFocalLossSum(logits, tf.tensor1d([1, 1, 0]), tf.tensor1d([0], 'int32')).dataSync()[0]!;
    const expected = focal(0, 1) + focal(2, 0) + focal(-1, 0) + focal(0.5, 0);
    expect(got).toBeCloseTo(expected, 5);
    expect(focal(2, 0)).toBeCloseTo(1.237559, 5); // 0.75 * sigmoid(2)² * softplus(2)
  });

  it('smooth L1 with beta 1/9', () => {
    const v = smoothL1Sum(tf.tensor1d([0.05, 1, -2]), tf.tensor1d([0, 0, 0]), 1 / 9).dataSync()[0]!;
    expect(v).toBeCloseTo(0.5 * 0.05 ** 2 * 9 + (1 - 1 / 18) + (2 - 1 / 18), 5);
  });

  it('GIoU loss', () => {
    // inter 1, union 7, enclosing 9: GIoU = 1/7 - 2/9
    const v = giouLossSum(tf.tensor2d([[0, 0, 2, 2], [0, 0, 2, 2]]), tf.tensor2d([[1, 1, 3, 3], [0, 0, 2, 2]])).dataSync()[0]!;
    expect(v).toBeCloseTo(1 - (1 / 7 - 2 / 9) + 0, 5);
  });

  it('gradients reach every logit and delta', () => {
    const logits = tf.variable(tf.tensor2d([[0, 2], [-1, 0.5]]));
    const { grads } = tf.variableGrads(() => sigmoidFocalLossSum(logits, tf.tensor1d([1, 1]), tf.tensor1d([3], 'int32')), [logits]);
    const g = grads[logits.name]!.dataSync();
    expect(g[3]).toBeLessThan(0); // positive: push the logit up
    expect(g[1]).toBeGreaterThan(0); // negative: push down
  });
});
