// The demo fidelity: how `sm-nas search` trains each candidate so a two-stage search of >= 20
// candidates, and the retraining of its final front, fit in 20 minutes on 2 cores, while every head
// family learns enough to be ranked. The one place the controller takes it from; bench/fidelity.ts
// calibrates it against a longer, wider reference (bench/RESULTS.md, "Fidelity"): change these
// values only together with a new run of it.
//
// A step budget capped in seconds: a candidate trains `maxSteps`, or what fits in `maxSeconds` if
// that is fewer, with a cosine the trainer anneals at that horizon (on 2 free cores:
// RetinaNet-ResNet-18-FPN ~0.08 s a step, Faster R-CNN ~0.13, FCOS ~0.14, Cascade
// R-CNN-ResNet-34 ~0.55, so the cheap ones train the whole budget and the dear ones what fits).
// Equal seconds alone (25 s each) left the Cascade R-CNNs ~40 steps and AP50 0.01-0.03 in a search
// (bench/RESULTS.md, "Fidelity"). At the 60 steps this replaced, every RetinaNet sat at AP 0.000-0.002 while
// two-stage detectors reached AP50 0.5: with the towers initialised as the backbone (LAYER_FLAGS.tower)
// and lr 1e-3 (4e-3 and 2e-3 learnt slower), RetinaNet-R18 reached AP50 0.08 after 300 steps and
// 0.21 after 500, FCOS-R18 0.34 after 300, Faster R-CNN-R18 0.80 after 300.
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
  /** A budget in steps (load-independent); 0 for none. The trainer warms up over a twentieth of it (WARMUP_FRACTION). */
  maxSteps: number;
  /** A budget in training seconds (the cosine anneals at the steps that fit); 0 for none. */
  maxSeconds: number;
}

/** The space's 512x512 at 64x64: the built-in images' own size. */
const DEMO_FIDELITY_INPUT_SCALE = 1 / 8;

export const DEMO_FIDELITY: Readonly<DemoFidelity> = Object.freeze<DemoFidelity>({
  dataset: { kind: 'builtin', preset: 'demo', seed: 0, trainImages: 2000, valImages: 200, imageSizePx: 64 },
  inputScale: DEMO_FIDELITY_INPUT_SCALE,
  widthMultiplier: 0.25,
  batchSize: 16,
  learningRate: 1e-3,
  weightDecay: 1e-4,
  lrSchedule: 'cosine',
  maxSteps: 300,
  maxSeconds: 30,
});

/**
 * The demo's retraining of its final Pareto models (SearchSpec.final_training): full width, so the
 * winners are the architectures found, not their quarter-width proxies; at the class's proxy input
 * size and for a minute each, which is what the 20 minutes leave on 2 cores. A demo-sized retraining, not
 * a converged one: the report states its fidelity and AP.
 */
export function demoFinalTrainingFor(hardwareClass: string): Pick<DemoFidelity, 'inputScale' | 'widthMultiplier' | 'maxSteps' | 'maxSeconds'> {
  return { inputScale: demoFidelityFor(hardwareClass).inputScale, widthMultiplier: 1, maxSteps: 0, maxSeconds: 60 };
}

/**
 * The demo on a GPU (a `gpu.` hardware class: webgpu on a hardware adapter, or tfjs-node-gpu): the
 * space's own input size at full width, batch 8, where the CPU's proxy (above) starves one-stage
 * detectors. Provisional: no calibration run on a GPU backs these values yet; the learning rate
 * and the time budget are the CPU proxy's, the batch half of it (the data set's 64 px images are
 * resized to the input as everywhere).
 */
export const GPU_DEMO_FIDELITY: Readonly<DemoFidelity> = Object.freeze<DemoFidelity>({
  ...DEMO_FIDELITY,
  inputScale: 1,
  widthMultiplier: 1,
  batchSize: 8,
});

/** The demo fidelity for a hardware class: the GPU's for `gpu.*`, the CPU proxy otherwise. */
export function demoFidelityFor(hardwareClass: string): Readonly<DemoFidelity> {
  return hardwareClass.startsWith('gpu.') ? GPU_DEMO_FIDELITY : DEMO_FIDELITY;
}
