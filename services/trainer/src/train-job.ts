// One training job: dataset, detector at the job's fidelity, a budget of steps and seconds,
// progress as it goes, evaluation on the validation split, a checkpoint, and a result. Written as an
// async generator so the gRPC handler streams it and tests and benchmarks drive it directly.
// A diverging run (non-finite loss) ends as a FAILED result with its reason, never as an exception.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Architecture } from '@sm-nas/arch';
import { architectureId, neckFamily } from '@sm-nas/arch';
import {
  batches,
  generateShapesSplits,
  labelMap,
  loadCoco,
  SHAPES_PRESETS,
  toSourceBox,
  type Augment,
  type DetectionDataset,
} from '@sm-nas/data';
import {
  createDetector, fitAnchorScale, fromTorchvisionName, planTrainStep, RETINA_ANCHOR_CONFIG, RetinaNet, trainStepMemory, WeightShapeError,
  type Detector, type TrainStepMemory, type TwoStageOptions, type WeightMap,
} from '@sm-nas/detector';
import { evaluateBboxes, type CocoDetection, type CocoSummary } from '@sm-nas/eval';
import { AdamW, initBackend, tf, trainingMemoryLimit, type InitBackendOptions } from '@sm-nas/tfjs-runtime';
import { DeviceLock } from '@sm-nas/service-kit';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { learningRateSchedule, type LrScheduleKind } from './lr-schedule.js';

export type DatasetSpec =
  | {
      kind: 'builtin';
      /** 0..2^32-1: the wire's uint64 seed folded (request.ts). */
      seed: number;
      trainImages: number;
      valImages: number;
      imageSizePx: number;
      /** Difficulty preset of the shapes set; default `demo`. */
      preset?: keyof typeof SHAPES_PRESETS;
    }
  | { kind: 'coco'; trainAnnotationsPath: string; trainImagesDir: string; valAnnotationsPath: string; valImagesDir: string };

export interface TrainJobSpec {
  jobId: string;
  arch: Architecture;
  dataset: DatasetSpec;
  init: 'scratch' | 'pretrained';
  /** Safetensors with torchvision parameter names (pretrained mode). */
  pretrainedWeightsPath?: string;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  /** 0..2^32-1: the wire's uint64 seed folded (request.ts). */
  seed: number;
  /** 0: evaluate only at the end. */
  evalEverySteps: number;
  inputScale: number;
  widthMultiplier: number;
  /** 0: no limit on that one; at least one must be set. */
  maxSteps: number;
  maxSeconds: number;
  /** Where checkpoints go; none written if undefined. */
  checkpointDir?: string;
  /** RPN / R-CNN settings of a two-stage architecture (mmdetection's defaults otherwise). */
  twoStage?: TwoStageOptions;
  /**
   * Linear learning-rate warm-up from lr * warmupStartFactor over this many steps. Default
   * TRAIN_DEFAULTS.warmupSteps, but at most WARMUP_FRACTION of a step budget (the wire has no field for
   * it, and a 100-step demo run must not spend all of it warming up).
   */
  warmupSteps?: number;
  /** After the warm-up: constant (default) or cosine to 0 at maxSteps (or, with maxSeconds only, at the steps that fit). */
  lrSchedule?: LrScheduleKind;
  /** Global-norm gradient clipping; 0 disables. Default TRAIN_DEFAULTS.gradClipMaxNorm. */
  gradClipMaxNorm?: number;
  /** Training augmentation; default TRAIN_DEFAULTS.augment. */
  augment?: Augment | false;
  /** Extra evaluations (a learning curve): after the first step at or past each of these training seconds / steps. */
  evalAtSeconds?: readonly number[];
  evalAtSteps?: readonly number[];
  /** RetinaNet anchor octave base scale, or 'fit' (default): chosen from the training boxes by fitAnchorScale. */
  anchorOctaveBaseScale?: number | 'fit';
  /**
   * Bytes a training step may use; default the backend's limit (trainingMemoryLimit: the wasm
   * heap's 4 GiB, none elsewhere). A batch over it runs as micro-batches (RetinaNet) or is refused.
   */
  memoryLimitBytes?: number;
}

/**
 * RoI and proposal counts for a proxy fidelity: mmdetection's (512 sampled RoIs, 1000 proposals per
 * image) are sized for full-resolution COCO images; at input scale s an image has s^2 of the pixels
 * and, in proportion, of the candidate boxes, so the counts shrink with it (to 64 RoIs and 100
 * proposals at least). At the demo's 1/8 this cuts a Faster R-CNN step ~4x; at scale 1 it changes nothing.
 */
export function twoStageAtFidelity(inputScale: number): TwoStageOptions {
  const area = Math.min(1, inputScale * inputScale);
  if (area >= 1) return {};
  const proposals = Math.max(100, Math.round(1000 * area));
  return {
    rcnn: { sampleNum: Math.max(64, Math.round(512 * area)) },
    proposals: { train: { maxPerImg: proposals }, test: { maxPerImg: proposals } },
  };
}

/**
 * The warm-up's share of a step budget (at most TRAIN_DEFAULTS.warmupSteps): a twentieth. A fifth
 * cost a from-scratch RetinaNet most of a short run: after 300 steps at lr 1e-3 it reached AP50
 * 0.08 with 60 warm-up steps and 0.19 with 10 (bench/RESULTS.md, "Fidelity").
 */
export const WARMUP_FRACTION = 1 / 20;

/** Steps timed (after the first) to fix the horizon of a cosine over a budget in seconds. */
export const HORIZON_TIMING_STEPS = 4;

/**
 * The training recipe's defaults (mmdetection's RetinaNet recipe where it has one, AdamW instead of
 * SGD because from-scratch runs of a few hundred steps need it). bench/learning/run.ts gives PyTorch
 * the same values; change them together.
 */
export const TRAIN_DEFAULTS = {
  /** mmdetection: linear warm-up, 500 iterations from 0.001; our runs are short, so 100. */
  warmupSteps: 100,
  warmupStartFactor: 0.001,
  /** mmdetection RetinaNet optimizer_config grad_clip max_norm. */
  gradClipMaxNorm: 35,
  adamEpsilon: 1e-8,
  augment: { flip: true, scaleJitter: [0.8, 1.2] } satisfies Augment as Augment,
} as const;

export interface TrainProgressEvent {
  kind: 'progress';
  step: number;
  maxSteps: number;
  loss: number;
  components: Record<string, number>;
  imagesPerSecond: number;
  elapsedSeconds: number;
  validation?: CocoSummary;
  /** Training seconds so far (evaluation time excluded). */
  trainSeconds: number;
}

export interface TrainResultEvent {
  kind: 'result';
  jobId: string;
  architectureId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  failureReason: string;
  metrics?: CocoSummary;
  steps: number;
  trainSeconds: number;
  checkpointPath: string;
  backend: string;
  /** The anchors trained with (fitted or given); 0 if training never started. */
  anchorOctaveBaseScale: number;
  /**
   * Images one forward and backward pass took: the batch size, or the micro-batch a batch over the
   * backend's memory limit ran as; 0 if training never started.
   */
  microBatch: number;
}

export type TrainEvent = TrainProgressEvent | TrainResultEvent;

/** Progress is reported at most this often (plus at evaluations and the end). */
const PROGRESS_INTERVAL_MS = 1000;

/**
 * The last built-in dataset generated, by its spec: a search trains every candidate on the same
 * splits, and generating 2,200 images takes seconds a candidate. Training reads datasets only.
 */
let builtinCache: { key: string; splits: { train: DetectionDataset; val: DetectionDataset } } | undefined;

async function openDataset(spec: DatasetSpec): Promise<{ train: DetectionDataset; val: DetectionDataset }> {
  if (spec.kind === 'builtin') {
    const key = JSON.stringify([spec.preset ?? 'demo', spec.seed, spec.trainImages, spec.valImages, spec.imageSizePx]);
    if (builtinCache?.key !== key) {
      const { train, val } = generateShapesSplits({
        ...SHAPES_PRESETS[spec.preset ?? 'demo'],
        seed: spec.seed,
        trainImages: spec.trainImages,
        valImages: spec.valImages,
        imageSize: spec.imageSizePx,
      });
      builtinCache = { key, splits: { train, val } };
    }
    return builtinCache.splits;
  }
  const [train, val] = await Promise.all([
    loadCoco({ annotationsPath: spec.trainAnnotationsPath, imagesDir: spec.trainImagesDir }),
    loadCoco({ annotationsPath: spec.valAnnotationsPath, imagesDir: spec.valImagesDir }),
  ]);
  return { train, val };
}

/** Backbone weights from torchvision names into the detector (pretrained mode). */
async function loadPretrained(detector: Detector, path: string, widthMultiplier: number): Promise<number> {
  const { tensors } = await readSafetensors(path);
  // The file may hold more than this detector runs (the classifier; stage 4 under a C4 neck). The
  // names alone: getWeights would read every tensor back.
  const known = new Set(detector.executor.params.params.keys());
  const weights: WeightMap = new Map();
  for (const [name, tensor] of tensors) {
    const ours = fromTorchvisionName(detector.arch.backbone, name);
    if (!ours) continue;
    if (known.has(ours)) weights.set(ours, { data: tensor.data, shape: tensor.shape });
    // Under a single-level neck (C4) the R-CNN stages run stage 4 per RoI (mmdetection's ResLayer shared head, which
    // loads the pretrained layer4): each stage's copy starts from it.
    const stage4 = /^backbone\.stage4\.(.+)$/.exec(ours);
    if (stage4 && neckFamily(detector.arch.neck).singleLevel) {
      for (let t = 1; t <= detector.arch.head.stages; t++) {
        const copy = `head.stage${t}.shared_head.${stage4[1]}`;
        if (known.has(copy)) weights.set(copy, { data: tensor.data, shape: tensor.shape });
      }
    }
  }
  if (weights.size === 0) throw new Error(`${path}: no tensor has a torchvision backbone name of ${detector.arch.backbone.kind}`);
  try {
    detector.setWeights(weights, false);
  } catch (err) {
    // The usual cause: a narrower or wider detector than the weights were made for (torchvision's
    // are full width, fidelity.width_multiplier 1); the bare shape error does not say so.
    if (err instanceof WeightShapeError) {
      throw new Error(
        `${path}: ${err.parameter} is [${err.got.join(', ')}] there, this detector's is [${err.expected.join(', ')}] at ` +
          `fidelity.width_multiplier ${widthMultiplier}: pretrained weights fix the width (1 for torchvision's); train at the width they were made at`,
      );
    }
    throw err;
  }
  return weights.size;
}

export async function evaluateDetector(
  detector: Detector,
  val: DetectionDataset,
  batchSize: number,
  signal?: AbortSignal,
  device?: DeviceLock,
): Promise<CocoSummary> {
  const labels = labelMap(val.coco);
  const detections: CocoDetection[] = [];
  for (const batch of batches({ dataset: val, batchSize, inputSize: { width: detector.inputSize.widthPx, height: detector.inputSize.heightPx }, shuffle: false, augment: false })) {
    signal?.throwIfAborted();
    await device?.yieldTo(signal);
    const images = tf.tensor4d(batch.images, batch.shape);
    const predicted = await detector.predict(images);
    images.dispose();
    predicted.forEach((det, i) => {
      const transform = batch.transforms[i]!;
      for (let k = 0; k < det.scores.length; k++) {
        const box = Array.from(det.boxes.subarray(k * 4, k * 4 + 4));
        detections.push({
          image_id: batch.imageIds[i]!,
          category_id: labels.categoryIds[det.labels[k]!]!,
          bbox: toSourceBox(box, transform),
          score: det.scores[k]!,
        });
      }
    });
  }
  return evaluateBboxes(val.coco, detections).summary;
}

/** Training images whose boxes choose the anchors (the first ones: the split is already in random order). */
const ANCHOR_FIT_IMAGES = 256;

/**
 * Which variables the trainer's decoupled weight decay applies to: weights only; biases and norm
 * affine parameters (the 1-D ones; mmdetection's norm_decay_mult 0) are skipped. By shape, because
 * tfjs variables carry generated names, not the parameter names.
 */
export function decaysWeight(variable: tf.Variable): boolean {
  return variable.shape.length > 1;
}

/** Boxes of the first training images, letterboxed to the detector's input as the batches are. */
function trainingBoxes(train: DetectionDataset, input: { width: number; height: number }): Float32Array[] {
  const subset = { ...train, coco: { ...train.coco, images: train.coco.images.slice(0, ANCHOR_FIT_IMAGES) } };
  const out: Float32Array[] = [];
  for (const b of batches({ dataset: subset, batchSize: 64, inputSize: input, shuffle: false, augment: false })) out.push(...b.boxes);
  return out;
}

const GIB = 2 ** 30;
const gib = (bytes: number): string => `${(bytes / GIB).toFixed(1)} GiB`;

/**
 * Why a batch does not fit in a training step's memory, and what does: the estimate
 * (libs/detector's trainStepMemory) against the limit, the largest batch that fits, the ways out.
 */
function batchTooLargeReason(
  memory: TrainStepMemory, plan: { bytes: number; largestBatch: number }, ctx: { limitBytes: number; backend: string; detector: Detector; spec: TrainJobSpec },
): string {
  const { detector, spec } = ctx;
  const input = `${detector.inputSize.widthPx}x${detector.inputSize.heightPx}`;
  const heap = spec.memoryLimitBytes !== undefined ? "the job's memory limit is" : ctx.backend === 'wasm' ? 'the wasm heap holds' : `the ${ctx.backend} backend holds`;
  const fits = plan.largestBatch >= 1
    ? `batch ${plan.largestBatch} fits: use schedule.batch_size ${plan.largestBatch} (sm-nas train --batch ${plan.largestBatch}), a smaller input scale or width, or a GPU backend (SM_NAS_TFJS_BACKEND=webgpu)`
    : 'not even one image fits: use a smaller input scale or width, or a GPU backend (SM_NAS_TFJS_BACKEND=webgpu)';
  const split = detector.head.splitsBatches ? '' : " (a two-stage detector's batch does not run as micro-batches: its sampling and loss normalisation span the batch)";
  return (
    `batch ${spec.batchSize} needs ~${gib(plan.bytes)} for a training step at ${input} (input scale ${spec.inputScale}, width ${spec.widthMultiplier}; ` +
    `estimated: ${gib(memory.stateBytes + memory.stepBytes)} for the parameters, optimiser state and gradients, ${(memory.perImageBytes / GIB).toFixed(2)} GiB an image); ` +
    `${heap} ${gib(ctx.limitBytes)}${split}; ${fits}`
  );
}

/** What a run takes from its process's parsed configuration (the trainer's main.ts). */
export interface TrainRuntime {
  /** The tfjs backend's settings; without them, the backend reads its variables itself. */
  backend?: InitBackendOptions;
  /**
   * A lock shared with a profiler on the same cores; the run pauses between steps while the
   * profiler measures. Undefined: none. Left out: $SM_NAS_DEVICE_LOCK (benches and tests).
   */
  device?: DeviceLock | undefined;
}

/**
 * Trains and evaluates one job, yielding progress and then the result.
 *
 * oneDNN's OpenMP threads should sleep between kernels rather than spin (OMP_WAIT_POLICY=passive):
 * a training step runs thousands of small kernels, and on a CPU shared with other work spinning
 * threads wait on descheduled peers (measured on the 2-core box under load ~20, a demo-fidelity
 * ResNet-18 RetinaNet step took 13.5 s spinning and 2.4 s passive). libgomp reads the variable when
 * the addon loads, from the process's own environment, so whoever launches a trainer sets it: the
 * local mesh does, and so does deploy/k8s.
 */
export async function* runTrainJob(spec: TrainJobSpec, signal?: AbortSignal, runtime: TrainRuntime = {}): AsyncGenerator<TrainEvent> {
  const device = 'device' in runtime ? runtime.device : DeviceLock.fromEnv();
  const backend = await initBackend(runtime.backend);
  let passImages = 0;
  const result = (
    status: TrainResultEvent['status'],
    failureReason: string,
    extra: Partial<TrainResultEvent> = {},
  ): TrainResultEvent => ({
    kind: 'result',
    jobId: spec.jobId,
    architectureId: architectureId(spec.arch),
    status,
    failureReason,
    steps: 0,
    trainSeconds: 0,
    checkpointPath: '',
    backend: backend.name,
    anchorOctaveBaseScale: 0,
    microBatch: passImages,
    ...extra,
  });

  let detector: Detector | undefined;
  let optimizer: tf.Optimizer | undefined;
  let step = 0;
  let trainSeconds = 0;
  try {
    const { train, val } = await openDataset(spec.dataset);
    const numClasses = train.coco.categories.length;
    const detectorOptions = {
      numClasses,
      fidelity: { inputScale: spec.inputScale, widthMultiplier: spec.widthMultiplier },
      norm: spec.init === 'pretrained' ? ('frozen_batch_norm' as const) : ('group_norm' as const),
      seed: spec.seed,
      twoStage: spec.twoStage ?? twoStageAtFidelity(spec.inputScale),
      gradClipMaxNorm: spec.gradClipMaxNorm ?? TRAIN_DEFAULTS.gradClipMaxNorm,
    };
    detector = createDetector(spec.arch, detectorOptions);
    // Anchors matched to the objects (one-stage RetinaNet; the two-stage heads keep their own).
    let octaveBaseScale = 0;
    if (detector.head instanceof RetinaNet) {
      const anchorScale = spec.anchorOctaveBaseScale ?? 'fit';
      octaveBaseScale = anchorScale === 'fit'
        ? fitAnchorScale(detector.head.levels, trainingBoxes(train, { width: detector.inputSize.widthPx, height: detector.inputSize.heightPx })).octaveBaseScale
        : anchorScale;
      if (octaveBaseScale !== detector.head.config.anchors.octaveBaseScale) {
        detector.dispose();
        detector = createDetector(spec.arch, { ...detectorOptions, retinanet: { anchors: { ...RETINA_ANCHOR_CONFIG, octaveBaseScale } } });
      }
    }
    if (spec.init === 'pretrained') {
      if (!spec.pretrainedWeightsPath) throw new Error('pretrained mode needs schedule.pretrained_weights_path');
      await loadPretrained(detector, spec.pretrainedWeightsPath, spec.widthMultiplier);
    }
    // A cosine over a budget in seconds anneals at the steps that fit (at most maxSteps, when both
    // are set): the first steps are timed (at the warm-up's starting rate), then the horizon is
    // fixed, and with it the warm-up.
    let horizon = spec.maxSteps;
    const timedHorizon = spec.lrSchedule === 'cosine' && spec.maxSeconds > 0;
    if (timedHorizon) horizon = 0;
    const scheduleFor = (maxSteps: number) =>
      learningRateSchedule({
        learningRate: spec.learningRate,
        kind: spec.lrSchedule ?? 'constant',
        warmupSteps: spec.warmupSteps ?? (maxSteps > 0 ? Math.min(TRAIN_DEFAULTS.warmupSteps, Math.ceil(maxSteps * WARMUP_FRACTION)) : TRAIN_DEFAULTS.warmupSteps),
        warmupStartFactor: TRAIN_DEFAULTS.warmupStartFactor,
        maxSteps,
      });
    let learningRateAt = timedHorizon ? () => spec.learningRate * TRAIN_DEFAULTS.warmupStartFactor : scheduleFor(spec.maxSteps);
    let timingFrom = 0;
    const adamw = new AdamW({
      learningRate: learningRateAt(0),
      epsilon: TRAIN_DEFAULTS.adamEpsilon,
      weightDecay: spec.weightDecay,
      decays: decaysWeight,
    });
    optimizer = adamw;
    // The step's memory against the backend's limit, before the first step: a batch over it runs as
    // micro-batches (RetinaNet: the same step) or is refused with the estimate.
    let microBatch: number | undefined;
    const limitBytes = spec.memoryLimitBytes ?? trainingMemoryLimit(backend);
    if (limitBytes !== undefined) {
      const memory = trainStepMemory(detector);
      const plan = planTrainStep(memory, spec.batchSize, limitBytes, { split: detector.head.splitsBatches });
      if (!plan.fits) {
        yield result('failed', batchTooLargeReason(memory, plan, { limitBytes, backend: backend.name, detector, spec }));
        return;
      }
      if (plan.chunks.length > 1) microBatch = plan.microBatch;
    }
    passImages = microBatch ?? spec.batchSize;
    const inputSize = { width: detector.inputSize.widthPx, height: detector.inputSize.heightPx };
    const augment = spec.augment ?? TRAIN_DEFAULTS.augment;
    const evalSeconds = [...(spec.evalAtSeconds ?? [])].sort((a, b) => a - b);
    const evalSteps = [...(spec.evalAtSteps ?? [])].sort((a, b) => a - b);
    const started = performance.now();
    let lastProgress = 0;
    let imagesSinceProgress = 0;
    let timeAtProgress = started;
    let validation: CocoSummary | undefined;

    const outOfBudget = () =>
      (horizon > 0 && step >= horizon) || (spec.maxSteps > 0 && step >= spec.maxSteps) || (spec.maxSeconds > 0 && trainSeconds >= spec.maxSeconds);
    /** Pops every checkpoint reached; true if there was one. */
    const checkpointReached = (): boolean => {
      let hit = false;
      while (evalSeconds.length > 0 && trainSeconds >= evalSeconds[0]!) {
        evalSeconds.shift();
        hit = true;
      }
      while (evalSteps.length > 0 && step >= evalSteps[0]!) {
        evalSteps.shift();
        hit = true;
      }
      return hit;
    };

    for (let epoch = 0; !outOfBudget(); epoch++) {
      for (const batch of batches({
        dataset: train,
        batchSize: spec.batchSize,
        inputSize,
        seed: spec.seed,
        epoch,
        augment,
        dropLast: true,
      })) {
        if (signal?.aborted) {
          yield result('cancelled', 'cancelled by the client', { steps: step, trainSeconds });
          return;
        }
        await device?.yieldTo(signal);
        const t0 = performance.now();
        adamw.learningRate = learningRateAt(step);
        const losses = await detector.trainStep(optimizer, batch, { microBatch });
        trainSeconds += (performance.now() - t0) / 1000;
        step++;
        if (timedHorizon && horizon === 0) {
          // The first step pays for kernel compilation and allocation: the timing starts after it.
          if (step === 1) timingFrom = trainSeconds;
          else if (step === 1 + HORIZON_TIMING_STEPS) {
            const perStep = (trainSeconds - timingFrom) / HORIZON_TIMING_STEPS;
            const fits = step + Math.max(1, Math.floor((spec.maxSeconds - trainSeconds) / perStep));
            horizon = spec.maxSteps > 0 ? Math.min(spec.maxSteps, fits) : fits;
            learningRateAt = scheduleFor(horizon);
          }
        }
        imagesSinceProgress += batch.imageIds.length;
        if (!Number.isFinite(losses.total)) {
          yield result('failed', `diverged: loss is ${losses.total} at step ${step} (${JSON.stringify(losses.components)})`, {
            steps: step,
            trainSeconds,
          });
          return;
        }
        const evaluateNow =
          ((spec.evalEverySteps > 0 && step % spec.evalEverySteps === 0) || checkpointReached()) && !outOfBudget();
        if (evaluateNow) validation = await evaluateDetector(detector, val, spec.batchSize, signal, device);
        const now = performance.now();
        if (evaluateNow || now - lastProgress >= PROGRESS_INTERVAL_MS || outOfBudget()) {
          yield {
            kind: 'progress',
            step,
            maxSteps: horizon,
            loss: losses.total,
            components: losses.components,
            imagesPerSecond: imagesSinceProgress / ((now - timeAtProgress) / 1000),
            elapsedSeconds: (now - started) / 1000,
            trainSeconds,
            ...(evaluateNow && validation ? { validation } : {}),
          };
          lastProgress = now;
          timeAtProgress = now;
          imagesSinceProgress = 0;
        }
        if (outOfBudget()) break;
      }
    }

    const metrics = await evaluateDetector(detector, val, spec.batchSize, signal, device);
    let checkpointPath = '';
    if (spec.checkpointDir) {
      await mkdir(spec.checkpointDir, { recursive: true });
      checkpointPath = join(spec.checkpointDir, `${spec.jobId}.safetensors`);
      await writeSafetensors(checkpointPath, await detector.getWeights(), {
        architecture_id: architectureId(spec.arch),
        built_architecture_id: architectureId(detector.arch),
        input_scale: String(spec.inputScale),
        width_multiplier: String(spec.widthMultiplier),
        steps: String(step),
        anchor_octave_base_scale: String(octaveBaseScale),
      });
    }
    yield result('succeeded', '', { metrics, steps: step, trainSeconds, checkpointPath, anchorOctaveBaseScale: octaveBaseScale });
  } catch (err) {
    if (signal?.aborted) {
      yield result('cancelled', 'cancelled by the client', { steps: step, trainSeconds });
      return;
    }
    yield result('failed', err instanceof Error ? err.message : String(err), { steps: step, trainSeconds });
  } finally {
    optimizer?.dispose();
    detector?.dispose();
  }
}
