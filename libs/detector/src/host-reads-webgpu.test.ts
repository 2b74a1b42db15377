// A training step on the webgpu backend, where a synchronous read throws on a tensor on the GPU:
// the step reads what host-reads.test.ts counts on wasm and nothing else, no kernel and no
// optimiser reads synchronously, and the values are finite. Runs on whatever adapter there is
// (lavapipe where there is no GPU); skips where none is, except in CI.
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from '@sm-nas/tfjs-runtime';
import { startWebGpuForTests } from '@sm-nas/tfjs-runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector } from './detector.js';
import type { GaRpn } from './ga-rpn.js';
import { countReads, fixedBatch, fpn, readsAtUpdate, retinaArch, twoStageArch } from './testing.js';
import type { TwoStage } from './two-stage.js';

let missing: string | undefined;
let batch: ReturnType<typeof fixedBatch> | undefined;
beforeAll(async () => {
  missing = await startWebGpuForTests('webgpu training-step tests');
  if (!missing) batch = fixedBatch(64);
}, 120_000);
afterAll(() => batch?.images.dispose());

const options = { numClasses: 3, norm: 'group_norm' as const, fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0 };

describe('a training step on webgpu', () => {
  it('RetinaNet with AdamW: one read after the update, none synchronous', async () => {
    if (missing) return;
    const det = createDetector(retinaArch('resnet18', fpn(3, 5)), options);
    const opt = new AdamW({ learningRate: 1e-4, weightDecay: 1e-4 });
    await det.trainStep(opt, batch!);
    const updateAt = readsAtUpdate(opt);
    const { result, reads } = await countReads(() => det.trainStep(opt, batch!));
    expect(reads.read).toEqual(['libs/detector/src/detector.ts']);
    expect(updateAt()).toBe(0);
    expect(reads.readSync).toEqual([]);
    expect(reads.inKernels.size).toBe(0);
    expect(Number.isFinite(result.total) && result.gradNorm > 0).toBe(true);
    opt.dispose();
    det.dispose();
  }, 120_000);

  // GA-RPN with a 2-stage Cascade has 8 loss components: more inputs than one webgpu AddN may bind.
  it('GA-RPN Cascade R-CNN x2: the proposal reads and the step\'s own, none synchronous', async () => {
    if (missing) return;
    const det = createDetector(twoStageArch('resnet18', fpn(3, 5), 'guided_anchoring', 'cascade_rcnn', 2), {
      ...options, twoStage: { rcnn: { sampleNum: 32 }, proposals: { train: { maxPerImg: 32 } } },
    });
    const levels = ((det.head as TwoStage).proposalNetwork as GaRpn).levels.length;
    const opt = new AdamW({ learningRate: 1e-4 });
    await det.trainStep(opt, batch!);
    const { result, reads } = await countReads(() => det.trainStep(opt, batch!));
    expect(reads.read).toEqual([
      ...Array<string>(4 * levels).fill('libs/detector/src/rpn.ts'),
      'libs/detector/src/rcnn.ts',
      'libs/detector/src/detector.ts',
    ]);
    expect(reads.readSync).toEqual([]);
    expect(reads.inKernels.size).toBe(0);
    const components = Object.values(result.components);
    expect(components).toHaveLength(8);
    expect(components.every(Number.isFinite)).toBe(true);
    expect(result.total).toBeCloseTo(components.reduce((a, b) => a + b, 0), 4);
    const l = await det.loss(batch!.images, batch!.boxes.map((boxes, i) => ({ boxes, labels: batch!.labels[i]! })));
    expect(Number.isFinite((await l.total.data())[0])).toBe(true);
    tf.dispose([l.total, ...Object.values(l.components)]);
    expect((await det.predict(batch!.images))).toHaveLength(2);
    opt.dispose();
    det.dispose();
  }, 120_000);
});
