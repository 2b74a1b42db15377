import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKBONE_KINDS, type BackboneKind, type Neck } from '@sm-nas/arch';
import { createDetector } from './detector.js';
import { fixedBatch, fpn, retinaArch, testBackend } from './testing.js';

// Every backbone with two necks, and every FPN level range of the space (C4 and the 20 ranges within
// P1..P7, extra levels from C5; the P5 source on two of them) with ResNet-18: builds, trains, and
// lowers its loss on a fixed batch (64x64, width x0.25).
const NECKS: Neck[] = [{ kind: 'c4' }, fpn(3, 7, 'p5'), fpn(2, 6, 'p5')];
for (let lo = 1; lo <= 5; lo++) for (let hi = lo + 1; hi <= 7; hi++) NECKS.push(fpn(lo, hi));
const cases: Array<[string, BackboneKind, Neck]> = [];
for (const kind of BACKBONE_KINDS) for (const neck of [fpn(3, 6), fpn(1, 4)]) cases.push([`${kind} P${neck.kind === 'fpn' ? `${neck.startLevel}-P${neck.endLevel}` : ''}`, kind, neck]);
for (const neck of NECKS) {
  if (neck.kind === 'fpn' && neck.extraSource === 'c5' && ((neck.startLevel === 3 && neck.endLevel === 6) || (neck.startLevel === 1 && neck.endLevel === 4))) continue;
  cases.push([`resnet18 ${neck.kind === 'fpn' ? `P${neck.startLevel}-P${neck.endLevel} ${neck.extraSource}` : 'C4'}`, 'resnet18', neck]);
}

let batch: ReturnType<typeof fixedBatch>;
beforeAll(async () => {
  await testBackend();
  batch = fixedBatch(64);
});
afterAll(() => batch.images.dispose());

describe('RetinaNet over the space trains', () => {
  it.each(cases)('%s: loss falls over 3 steps', async (_name, kind, neck) => {
    const det = createDetector(retinaArch(kind, neck), {
      numClasses: 3, norm: 'group_norm', fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0,
    });
    // mmdetection's RetinaNet optimiser (SGD, lr 0.01, momentum 0.9)
    const opt = tf.train.momentum(0.01, 0.9);
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const l = await det.trainStep(opt, batch);
      expect(Number.isFinite(l.total)).toBe(true);
      losses.push(l.total);
    }
    const l = await det.loss(batch.images, batch.boxes.map((boxes, i) => ({ boxes, labels: batch.labels[i]! })));
    const after = (await l.total.data())[0]!;
    tf.dispose([l.total, ...Object.values(l.components)]);
    expect(after).toBeLessThan(losses[0]!);
    opt.dispose();
    det.dispose();
  });

  it('GIoU box loss trains too', async () => {
    const det = createDetector(retinaArch('resnet18', fpn(3, 5)), {
      numClasses: 3, norm: 'group_norm', fidelity: { inputScale: 1, widthMultiplier: 0.25 }, retinanet: { boxLoss: 'giou' },
    });
    const opt = tf.train.momentum(0.01, 0.9);
    const first = await det.trainStep(opt, batch);
    let last = first;
    for (let i = 0; i < 3; i++) last = await det.trainStep(opt, batch);
    expect(first.components.box).toBeGreaterThan(0);
    expect(last.total).toBeLessThan(first.total);
    det.dispose();
  });
});
