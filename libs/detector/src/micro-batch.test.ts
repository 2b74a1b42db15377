// A batch run as micro-batches (trainStep's microBatch) is the same step as the batch in one pass:
// the same losses, gradient norm and update, up to float32 summation order. RetinaNet normalises each
// micro-batch's loss by the whole batch's positives; group norm has no batch statistics.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDetector, type Detector } from './detector.js';
import type { WeightMap } from './params.js';
import { fixedBatch, fpn, retinaArch, testBackend, twoStageArch } from './testing.js';

beforeAll(async () => {
  await testBackend();
});

/** max |a - b| / max |a| over the changes from `before` of every parameter. */
function updateDifference(before: WeightMap, a: WeightMap, b: WeightMap): { relative: number; largest: number } {
  let diff = 0;
  let largest = 0;
  for (const [name, w0] of before) {
    const [wa, wb] = [a.get(name)!.data, b.get(name)!.data];
    for (let i = 0; i < w0.data.length; i++) {
      const da = wa[i]! - w0.data[i]!;
      const db = wb[i]! - w0.data[i]!;
      diff = Math.max(diff, Math.abs(da - db));
      largest = Math.max(largest, Math.abs(da));
    }
  }
  return { relative: diff / largest, largest };
}

describe('trainStep as micro-batches', () => {
  it.each([['group_norm'], ['frozen_batch_norm']] as const)('equals the whole batch\'s step (RetinaNet, %s, 3 images as 2 + 1)', async (norm) => {
    const batch = fixedBatch(64, 3);
    const make = (): Detector => createDetector(retinaArch('resnet18', fpn(3, 5)), {
      numClasses: 3, norm, fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0,
    });
    const [whole, split] = [make(), make()];
    const before = await whole.getWeights();
    const [o1, o2] = [tf.train.sgd(0.01), tf.train.sgd(0.01)];
    const a = await whole.trainStep(o1, batch);
    const b = await split.trainStep(o2, batch, { microBatch: 2 });
    expect(a.passes).toBe(1);
    expect(b.passes).toBe(2);
    expect(b.total).toBeCloseTo(a.total, 5);
    expect(b.components.cls).toBeCloseTo(a.components.cls!, 5);
    expect(b.components.box).toBeCloseTo(a.components.box!, 5);
    expect(Math.abs(b.gradNorm / a.gradNorm - 1)).toBeLessThan(1e-5);
    const { relative, largest } = updateDifference(before, await whole.getWeights(), await split.getWeights());
    expect(largest).toBeGreaterThan(0);
    expect(relative).toBeLessThan(1e-4);
    tf.dispose([batch.images]);
    for (const x of [o1, o2, whole, split]) x.dispose();
  });

  it('a two-stage detector runs its batch whole', async () => {
    const batch = fixedBatch(64, 2);
    const det = createDetector(twoStageArch('resnet18', fpn(2, 5), 'rpn', 'faster_rcnn', 1), {
      numClasses: 3, norm: 'group_norm', fidelity: { inputScale: 1, widthMultiplier: 0.25 },
    });
    const opt = tf.train.sgd(0.01);
    await expect(det.trainStep(opt, batch, { microBatch: 1 })).rejects.toThrow(/cannot run as micro-batches/);
    tf.dispose([batch.images]);
    opt.dispose();
    det.dispose();
  });
});
