// Host reads of one training step, counted at the backend. A GPU backend (WebGPU in Node) has no
// synchronous read and each read is a wait for the device, so a step reads its losses and gradient
// norm once, after the update; a two-stage detector also reads its proposals mid-forward.
//
// `tensor.data()` reaches `backend.read`, `dataSync()` `backend.readSync`. Kernels on the cpu and
// wasm backends call readSync themselves to reach their inputs' memory (wasm's GatherV2 checks its
// indices that way); those are the backend's business, not a wait, and are kept apart here.
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from '@sm-nas/tfjs-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector } from './detector.js';
import type { GaRpn } from './ga-rpn.js';
import type { Rpn } from './rpn.js';
import { countReads, fixedBatch, fpn, readsAtUpdate, retinaArch, testBackend, twoStageArch } from './testing.js';
import type { TwoStage } from './two-stage.js';

let batch: ReturnType<typeof fixedBatch>;
beforeAll(async () => {
  await testBackend();
  batch = fixedBatch(64);
});
afterAll(() => batch.images.dispose());

const options = { numClasses: 3, norm: 'group_norm' as const, fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0 };

/**
 * AdamW reads a tensor scale synchronously where its kernel takes a number (cpu, wasm: a memory
 * access there); on WebGPU the scale is a kernel input and stays on the device.
 */
const ADAMW_SCALE_READ = 'libs/tfjs-runtime/src/adamw.ts';
/** With tfjs's own optimisers the clip factor is read on cpu and wasm to skip a pass when it is 1. */
const CLIP_FACTOR_READ = 'libs/detector/src/detector.ts';

describe('host reads of a training step', () => {
  it.each([
    ['AdamW (the trainer)', () => new AdamW({ learningRate: 1e-4, weightDecay: 1e-4 })],
    ["tfjs's momentum", () => tf.train.momentum(0.01, 0.9)],
  ])('RetinaNet with %s: one read, the losses and the norm together, after the update', async (_name, optimizer) => {
    const det = createDetector(retinaArch('resnet18', fpn(3, 5)), options);
    const opt = optimizer();
    await det.trainStep(opt, batch); // first step: optimiser state, folded weights
    const updateAt = readsAtUpdate(opt);
    const { result, reads } = await countReads(() => det.trainStep(opt, batch));
    expect(reads.read).toEqual(['libs/detector/src/detector.ts']);
    expect(updateAt()).toBe(0);
    expect(reads.readSync.filter((f) => f !== ADAMW_SCALE_READ && f !== CLIP_FACTOR_READ)).toEqual([]);
    expect(reads.readSync.length).toBeLessThanOrEqual(1);
    expect(Number.isFinite(result.total)).toBe(true);
    expect(result.gradNorm).toBeGreaterThan(0);
    expect(Object.keys(result.components)).toEqual(['cls', 'box']);
    opt.dispose();
    det.dispose();
  });

  // The proposals are read mid-forward: both dense outputs (objectness, deltas) of each RPN level
  // together; GA-RPN adds its shape and location outputs (4 per level), and each Cascade stage but
  // the last the deltas its boxes are refined by (1 per stage). Then the step's own read.
  it.each([
    ['Faster R-CNN', 'rpn', 'faster_rcnn', 1],
    ['GA-RPN Cascade R-CNN x3', 'guided_anchoring', 'cascade_rcnn', 3],
  ] as const)('%s: one read of the step, and the proposal reads', async (_name, rpn, head, stages) => {
    const det = createDetector(twoStageArch('resnet18', fpn(3, 5), rpn, head, stages), {
      ...options, twoStage: { rcnn: { sampleNum: 32 }, proposals: { train: { maxPerImg: 32 } } },
    });
    const network = (det.head as TwoStage).proposalNetwork as Rpn | GaRpn;
    const levels = network.levels.length;
    expect(levels).toBe(3);
    const denseReads = (rpn === 'rpn' ? 2 : 4) * levels;
    const opt = new AdamW({ learningRate: 1e-4 });
    await det.trainStep(opt, batch);
    const updateAt = readsAtUpdate(opt);
    const { reads } = await countReads(() => det.trainStep(opt, batch));
    expect(reads.read).toEqual([
      ...Array<string>(denseReads).fill('libs/detector/src/rpn.ts'),
      ...Array<string>(stages - 1).fill('libs/detector/src/rcnn.ts'),
      'libs/detector/src/detector.ts',
    ]);
    expect(updateAt()).toBe(reads.read.length - 1);
    expect(reads.readSync.filter((f) => f !== ADAMW_SCALE_READ)).toEqual([]);
    opt.dispose();
    det.dispose();
  }, 120_000);
});
