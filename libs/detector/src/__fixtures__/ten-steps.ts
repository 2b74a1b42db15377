// Ten training steps of a RetinaNet, a Faster R-CNN and a Cascade R-CNN on one backend (argv[2]),
// from the same seeds and batch on every backend; prints one JSON line: per network the loss at the
// initial weights, each step's loss, and the loss after the steps at the same sampler position.
// Run in a child process by ../webgpu-train.test.ts (a process starts one backend).
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, initBackend, parseBackendChoice } from '@sm-nas/tfjs-runtime';
import { createDetector, type Detector } from '../detector.js';
import { fixedBatch, fpn, retinaArch, twoStageArch } from '../testing.js';
import type { TwoStage } from '../two-stage.js';

const info = await initBackend({ backend: parseBackendChoice(process.argv[2]), log: null });
const batch = fixedBatch(64);
const targets = batch.boxes.map((boxes, i) => ({ boxes, labels: batch.labels[i]! }));
const options = {
  numClasses: 3, norm: 'group_norm' as const, fidelity: { inputScale: 1, widthMultiplier: 0.25 }, seed: 0,
  twoStage: { rcnn: { sampleNum: 64 }, proposals: { train: { maxPerImg: 64 } } },
};
const nets = {
  retinanet: retinaArch('resnet18', fpn(3, 5)),
  faster_rcnn: twoStageArch('resnet18', fpn(2, 5), 'rpn', 'faster_rcnn', 1),
  cascade_rcnn: twoStageArch('resnet18', fpn(2, 5), 'rpn', 'cascade_rcnn', 3),
};

async function lossAt(det: Detector): Promise<number> {
  const l = await det.loss(batch.images, targets);
  const value = (await l.total.data())[0]!;
  tf.dispose([l.total, ...Object.values(l.components)]);
  return value;
}

const out: Record<string, { initial: number; steps: number[]; after: number }> = {};
for (const [name, arch] of Object.entries(nets)) {
  const det = createDetector(arch, options);
  const rng = det.head instanceof Object && 'rng' in det.head ? (det.head as TwoStage).rng : undefined;
  const start = rng?.state;
  const initial = await lossAt(det);
  // The trainer's optimiser (services/trainer TRAIN_DEFAULTS: AdamW, lr 1e-3).
  const opt = new AdamW({ learningRate: 1e-3, weightDecay: 1e-4 });
  const steps: number[] = [];
  for (let i = 0; i < 10; i++) steps.push((await det.trainStep(opt, batch)).total);
  if (rng && start !== undefined) rng.state = start;
  out[name] = { initial, steps, after: await lossAt(det) };
  opt.dispose();
  det.dispose();
}
console.log(`RESULT ${JSON.stringify({ backend: info.name, adapter: info.adapter, nets: out })}`);
process.exit(0);
