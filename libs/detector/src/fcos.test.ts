import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Architecture, Neck } from '@sm-nas/arch';
import { buildGraph } from '@sm-nas/arch/graph';
import { createDetector } from './detector.js';
import type { GraphOutputs } from './executor.js';
import { Fcos } from './fcos.js';
import { fixedBatch, fpn, retinaArch, testBackend } from './testing.js';

beforeAll(async () => {
  await testBackend();
});

const fcosArch = (neck: Neck, size: number): Architecture => ({ ...retinaArch('resnet18', neck, size), head: { kind: 'fcos', stages: 0, channels: 256 } });

// torchvision 0.14.1's FCOS.compute_loss on this batch and these head outputs, printed by
// libs/detector/reference/fcos_loss.py (Debian python3-torch 1.13 / python3-torchvision 0.14.1):
// 128x128, P3..P5, 3 classes; the outputs are the closed formula below, computed on both sides.
const BOXES: Array<[number[], number[]]> = [
  [[4, 6, 30, 34, 20, 16, 60, 62, 40, 4, 52, 14], [0, 1, 2]],
  [[10, 10, 50, 40, 2, 40, 20, 62, 4, 8, 124, 120], [2, 0, 1]],
];
/** [point, box] of every point torchvision matched, per image (points over P3, P4, P5, row-major). */
const TORCHVISION_MATCHED = [
  [[22, 2], [33, 0], [34, 0], [35, 0], [49, 0], [50, 0], [51, 0], [68, 1], [69, 1], [70, 1], [84, 1], [85, 1], [86, 1], [100, 1], [101, 1], [102, 1]],
  [[35, 0], [36, 0], [37, 0], [51, 0], [52, 0], [53, 0], [67, 0], [68, 0], [69, 0], [97, 1], [98, 1], [113, 1], [114, 1], [136, 2], [283, 2], [284, 2], [285, 2], [291, 2], [293, 2], [299, 2], [300, 2], [301, 2]],
];
const TORCHVISION_LOSSES = { cls: 1.9496582746505737, box: 0.9557618498802185, centerness: 0.7515735030174255 };

describe('FCOS against torchvision', () => {
  const graph = buildGraph(fcosArch(fpn(3, 5), 128), { numClasses: 3 });
  const head = new Fcos(graph);
  const targets = BOXES.map(([b, l]) => ({ boxes: Float32Array.from(b), labels: Int32Array.from(l) }));

  /** fcos_loss.py's formula: p is the point's index over all levels. */
  function outputs(): GraphOutputs {
    const roles = new Map<string, Map<number, tf.Tensor4D>>([['head.cls', new Map()], ['head.reg', new Map()], ['head.centerness', new Map()]]);
    let offset = 0;
    for (const { level, height, width } of head.levels) {
      const count = height * width;
      const cls = new Float32Array(2 * count * 3);
      const reg = new Float32Array(2 * count * 4);
      const ctr = new Float32Array(2 * count);
      for (let n = 0; n < 2; n++) {
        for (let i = 0; i < count; i++) {
          const p = offset + i;
          for (let c = 0; c < 3; c++) cls[(n * count + i) * 3 + c] = 2 * Math.sin(0.7 * p + 1.3 * c + 2.1 * n) - 2;
          for (let c = 0; c < 4; c++) reg[(n * count + i) * 4 + c] = 0.5 + 0.4 * Math.sin(0.3 * p + 0.9 * c + 0.5 * n);
          ctr[n * count + i] = Math.sin(0.45 * p + 1.7 * n);
        }
      }
      roles.get('head.cls')!.set(level, tf.tensor4d(cls, [2, height, width, 3]));
      roles.get('head.reg')!.set(level, tf.tensor4d(reg, [2, height, width, 4]));
      roles.get('head.centerness')!.set(level, tf.tensor4d(ctr, [2, height, width, 1]));
      offset += count;
    }
    return roles as GraphOutputs;
  }

  it('places one point per location, stride-sized, centred at (x, y) x stride', () => {
    expect(head.levels).toEqual([{ level: 3, height: 16, width: 16 }, { level: 4, height: 8, width: 8 }, { level: 5, height: 4, width: 4 }]);
    expect([...head.points.subarray(0, 12)]).toEqual([-4, -4, 4, 4, 4, -4, 12, 4, 12, -4, 20, 4]); // torchvision's first anchors
  });

  it("matches torchvision's points to boxes (centre sampling, scale ranges, smallest box)", () => {
    for (const [n, t] of targets.entries()) {
      const matched = head.match(t.boxes);
      const pairs = [...matched].flatMap((g, p) => (g >= 0 ? [[p, g]] : []));
      expect(pairs).toEqual(TORCHVISION_MATCHED[n]);
    }
  });

  it("gives torchvision's classification, box and centerness losses on the same outputs", async () => {
    const out = outputs();
    const l = head.loss(out, head.targets(targets));
    const values = Object.fromEntries(await Promise.all(Object.entries(l.components).map(async ([k, v]) => [k, (await v.data())[0]!] as const)));
    expect(values['cls']).toBeCloseTo(TORCHVISION_LOSSES.cls, 5);
    expect(values['box']).toBeCloseTo(TORCHVISION_LOSSES.box, 5);
    expect(values['centerness']).toBeCloseTo(TORCHVISION_LOSSES.centerness, 5);
    expect((await l.total.data())[0]).toBeCloseTo(TORCHVISION_LOSSES.cls + TORCHVISION_LOSSES.box + TORCHVISION_LOSSES.centerness, 4);
    tf.dispose([l.total, ...Object.values(l.components)]);
    for (const m of out.values()) for (const t of m.values()) t.dispose();
  });

  it('decodes a confident point to the box its distances give, scored sqrt(class x centerness)', async () => {
    const level3 = head.levels[0]!;
    const count = level3.height * level3.width;
    const filled = (channels: number, fill: number): Map<number, tf.Tensor4D> =>
      new Map(head.levels.map((l) => [l.level, tf.fill([1, l.height, l.width, channels], fill) as tf.Tensor4D]));
    const cls = filled(3, -10);
    const reg = filled(4, 1);
    const ctr = filled(1, 10);
    // P3 point (x 5, y 2): centre (40, 16), stride 8; class 2 at logit 3; distances 1, 0.5, 2, 1.5 strides.
    const at = 2 * level3.width + 5;
    const c = new Float32Array(count * 3).fill(-10);
    c[at * 3 + 2] = 3;
    const r = new Float32Array(count * 4).fill(1);
    r.set([1, 0.5, 2, 1.5], at * 4);
    cls.set(3, tf.tensor4d(c, [1, level3.height, level3.width, 3]));
    reg.set(3, tf.tensor4d(r, [1, level3.height, level3.width, 4]));
    const dets = await head.detect(new Map([['head.cls', cls], ['head.reg', reg], ['head.centerness', ctr]]) as GraphOutputs);
    expect([...dets[0]!.labels]).toEqual([2]);
    expect([...dets[0]!.boxes]).toEqual([32, 12, 56, 28]);
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    expect(dets[0]!.scores[0]).toBeCloseTo(Math.sqrt(sigmoid(3) * sigmoid(10)), 5);
  });
});

describe('FCOS trains', () => {
  let batch: ReturnType<typeof fixedBatch>;
  beforeAll(() => {
    batch = fixedBatch(64);
  });
  afterAll(() => batch.images.dispose());

  // torchvision's P3-P7 with P6 and P7 from P5, and a pyramid from C5's extra level alone.
  it.each([['P3-P7 from P5', fpn(3, 7, 'p5')], ['P2-P6 from C5', fpn(2, 6)]] as const)('%s: loss falls over 3 steps', async (_name, neck) => {
    const det = createDetector(fcosArch(neck, 64), {
      numClasses: 3, norm: 'group_norm', fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0,
    });
    // torchvision's detection reference recipe: SGD, momentum 0.9 (lr 0.01 here)
    const opt = tf.train.momentum(0.01, 0.9);
    const first = await det.trainStep(opt, batch);
    expect(first.components['box']).toBeGreaterThan(0);
    expect(first.components['centerness']).toBeGreaterThan(0);
    let last = first;
    for (let i = 0; i < 3; i++) last = await det.trainStep(opt, batch);
    expect(Number.isFinite(last.total)).toBe(true);
    expect(last.total).toBeLessThan(first.total);
    opt.dispose();
    det.dispose();
  });
});
