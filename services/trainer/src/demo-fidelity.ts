// The demo fidelity: how `sm-nas search` trains each candidate so a two-stage search of >= 20
// candidates fits in 20 minutes on 2 cores (the demo's budget) and still ranks candidates like a 10x longer
// training does. The one place the controller takes it from; bench/rank-fidelity.ts measures it
// (results, curves and the command in bench/RESULTS.md, "Rank fidelity"): change these values only
// together with a new run of it.
//
// Sized for the time budget: 64x64 inputs (the space's 512x512 at 1/8), a quarter of the channels,
// 60 steps of 16 images with a cosine schedule (~15 s for a RetinaNet-ResNet-18-FPN, ~35 s for a
// Faster R-CNN-ResNet-18-FPN on 2 free cores; two-stage runs sample RoIs and proposals at the input's
// area, see twoStageAtFidelity). Measured before choosing (sm-nas train, same settings, quiet
// machine): Faster R-CNN-R18-FPN reached AP50 0.43 after 80 steps and 0.65 after 150; RetinaNet-R18-FPN
// 0.005 after 150: one-stage detectors learn far slower from scratch here (bench/RESULTS.md's PyTorch
// calibration says the same). bench/rank-fidelity.ts (2026-11-30): over 6 architectures, AP after
// these 60 steps ranks them like AP after 600 with Spearman 0.93 (bench/RESULTS.md, with where it is weak).
// Only what TrainRequest carries is here (the builtin dataset is always the `demo` preset).
import type { LrScheduleKind } from './lr-schedule.js';
import type { DatasetSpec } from './train-job.js';

export interface DemoFidelity {
  /** The built-in shapes set; every candidate trains and is scored on the same splits. */
  dataset: Extract<DatasetSpec, { kind: 'builtin' }>;
  /** Input side multiplier: the space's 512x512 trains at 64x64, 800x600 at 100x75, ... */
  inputScale: number;
  /** Backbone base channels, FPN and head channels times this. */
  widthMultiplier: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  /** Cosine to 0 at maxSteps: a short run ends annealed. */
  lrSchedule: LrScheduleKind;
  /** The per-candidate budget, in steps (load-independent, unlike seconds); the trainer warms up over a fifth of it. */
  maxSteps: number;
}

export const DEMO_FIDELITY: Readonly<DemoFidelity> = Object.freeze<DemoFidelity>({
  dataset: { kind: 'builtin', preset: 'demo', seed: 0, trainImages: 2000, valImages: 200, imageSizePx: 64 },
  inputScale: 1 / 8,
  widthMultiplier: 0.25,
  batchSize: 16,
  learningRate: 4e-3,
  weightDecay: 1e-4,
  lrSchedule: 'cosine',
  maxSteps: 60,
});

/**
 * The demo on a GPU (a `gpu.` hardware class: webgpu on a hardware adapter, or tfjs-node-gpu): the
 * space's own input size at full width, batch 8, where the CPU's proxy (above) starves one-stage
 * detectors. Provisional: no rank-fidelity run on a GPU backs these values yet; the learning rate
 * is the CPU proxy's scaled by the batch (AdamW, linear rule); the step budget and the data set (64 px
 * images, resized to the input as everywhere) are the same.
 */
export const GPU_DEMO_FIDELITY: Readonly<DemoFidelity> = Object.freeze<DemoFidelity>({
  ...DEMO_FIDELITY,
  inputScale: 1,
  widthMultiplier: 1,
  batchSize: 8,
  learningRate: 2e-3,
});

/** The demo fidelity for a hardware class: the GPU's for `gpu.*`, the CPU proxy otherwise. */
export function demoFidelityFor(hardwareClass: string): Readonly<DemoFidelity> {
  return hardwareClass.startsWith('gpu.') ? GPU_DEMO_FIDELITY : DEMO_FIDELITY;
}
