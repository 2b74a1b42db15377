import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraph } from '@sm-nas/arch/graph';
import type { GraphOutputs } from './executor.js';
import { batchedNms } from './dense-head.js';
import { fitAnchorScale, RetinaNet } from './retinanet.js';
import { fpn, retinaArch, testBackend } from './testing.js';

beforeAll(async () => {
  await testBackend();
});

describe('class-wise NMS (mmcv batched_nms)', () => {
  it('suppresses overlaps within a class only, best first, at most maxOut', async () => {
    const boxes = [0, 0, 10, 10, 1, 1, 10, 10, 1, 1, 10, 10, 20, 20, 30, 30];
    const scores = [0.9, 0.8, 0.7, 0.6];
    const labels = [0, 0, 1, 0]; // box 1 overlaps box 0 at IoU 0.81; box 2 is of another class
    const d = await batchedNms(boxes, scores, labels, 0.5, 100);
    expect([...d.scores].map((s) => +s.toFixed(2))).toEqual([0.9, 0.7, 0.6]);
    expect([...d.labels]).toEqual([0, 1, 0]);
    expect([...d.boxes.slice(4, 8)]).toEqual([1, 1, 10, 10]);
    expect((await batchedNms(boxes, scores, labels, 0.5, 2)).scores.length).toBe(2);
    expect((await batchedNms(boxes, scores, labels, 0.9, 100)).scores.length).toBe(4);
  });
});

describe('RetinaNet decoding', () => {
  const graph = buildGraph(retinaArch('resnet18', fpn(3, 4)), { numClasses: 3 });
  const head = new RetinaNet(graph);

  function outputs(set: (cls: Float32Array, reg: Float32Array, level: number, w: number) => void): GraphOutputs {
    const cls = new Map<number, tf.Tensor4D>();
    const reg = new Map<number, tf.Tensor4D>();
    for (const { level, height, width } of head.levels) {
      const c = new Float32Array(height * width * 27).fill(-10);
      const r = new Float32Array(height * width * 36);
      set(c, r, level, width);
      cls.set(level, tf.tensor4d(c, [1, height, width, 27]));
      reg.set(level, tf.tensor4d(r, [1, height, width, 36]));
    }
    return new Map([['head.cls', cls], ['head.reg', reg]]);
  }

  it('has 9 anchors per location on P3 (8x8) and P4 (4x4) at 64x64', () => {
    expect(head.levels).toEqual([{ level: 3, height: 8, width: 8 }, { level: 4, height: 4, width: 4 }]);
    expect(head.numAnchors).toBe((64 + 16) * 9);
  });

  it('decodes a confident anchor to its box in input pixels, drops scores <= 0.05', async () => {
    const dets = await head.detect(outputs((cls, reg, level, w) => {
      if (level !== 3) return;
      const loc = 1 * w + 2; // row 1, column 2: centre (16, 8)
      cls[loc * 27 + 4 * 3 + 1] = 3; // anchor 4 (ratio 1, side 40.3175), class 1
      reg[loc * 36 + 4 * 4] = 0.1; // dx: +4.0317 px
      cls[0] = -3; // score 0.047: below the threshold
    }));
    expect(dets).toHaveLength(1);
    const d = dets[0]!;
    expect([...d.labels]).toEqual([1]);
    expect(d.scores[0]).toBeCloseTo(1 / (1 + Math.exp(-3)), 5);
    // x: 20.0317 ± 20.1587 -> [-0.127 -> 0, 40.1905]; y: 8 ± 20.1587 -> [0, 28.1587]
    [0, 0, 40.1905, 28.1587].forEach((v, i) => expect(d.boxes[i]).toBeCloseTo(v, 3));
  });

  it('keeps at most 100 per image, best first', async () => {
    const dets = await head.detect(outputs((cls) => {
      for (let i = 0; i < cls.length; i += 27) cls[i] = 1 + (i % 7) * 0.1; // class 0 everywhere
    }));
    const s = dets[0]!.scores;
    expect(s.length).toBeGreaterThan(0);
    expect(s.length).toBeLessThanOrEqual(100);
    for (let i = 1; i < s.length; i++) expect(s[i]).toBeLessThanOrEqual(s[i - 1]!);
  });

  it('builds targets: positives with their class and deltas, ignored anchors weighted 0', () => {
    const t = head.targets([{ boxes: Float32Array.of(0, 0, 40, 40, 30, 30, 60, 60), labels: Int32Array.of(2, 0) }, { boxes: new Float32Array(0), labels: new Int32Array(0) }]);
    expect(t.numPositives).toBeGreaterThanOrEqual(2);
    expect(t.anchorWeights.length).toBe(2 * head.numAnchors);
    for (let i = head.numAnchors; i < 2 * head.numAnchors; i++) expect(t.anchorWeights[i]).toBe(1);
    for (let j = 0; j < t.numPositives; j++) {
      const label = t.clsPositives[j]! % 3;
      expect(Math.floor(t.clsPositives[j]! / 3)).toBe(t.positiveRows[j]);
      expect([0, 2]).toContain(label);
    }
  });
});

describe('fitAnchorScale', () => {
  // One level at stride 8 (8x8 cells, centres at multiples of 8). Square anchors of octave base
  // scale s are 8s, 8s*2^(1/3), 8s*2^(2/3) px wide, so hand-computed IoUs with centred square boxes:
  // a 16 px box has IoU 1 with the 16 px anchor of scale 2 and at most 16²/32² = 0.25 with scale 4;
  // a 32 px box has IoU 1 with scale 4's 32 px anchor and (8*2*2^(2/3))²/32² = 0.63 with scale 2's largest.
  const level = [{ level: 3, height: 8, width: 8 }];
  const small = Float32Array.from([8, 8, 24, 24]);
  const large = Float32Array.from([0, 0, 32, 32]);

  it('picks smaller anchors when the objects are small', () => {
    const fit = fitAnchorScale(level, [small], undefined, undefined, [4, 2]);
    expect(fit.coverage.get(4)).toBe(0);
    expect(fit.coverage.get(2)).toBe(1);
    expect(fit.octaveBaseScale).toBe(2);
  });

  it("keeps mmdetection's scale 4 when it covers the objects as well", () => {
    const fit = fitAnchorScale(level, [large, large], undefined, undefined, [4, 2]);
    expect(fit.coverage.get(4)).toBe(1);
    expect(fit.coverage.get(2)).toBe(1);
    expect(fit.octaveBaseScale).toBe(4);
  });

  it('counts every box of every image', () => {
    expect(fitAnchorScale(level, [small, large], undefined, undefined, [4]).coverage.get(4)).toBe(0.5);
  });
});
