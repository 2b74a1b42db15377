// TrainRequest (wire) -> TrainJobSpec, with the contract's defaults for zero values and
// INVALID_ARGUMENT naming the request field for anything unusable. Seeds are uint64 on the wire, and
// every value is accepted; the dataset and weight generators hold 32-bit state, so a seed reaches
// them folded (libs/arch foldSeed32: below 2^32 the seed itself, above it the high word mixed in).
import { foldSeed32, validateArchitecture } from '@sm-nas/arch';
import { architectureFromWire, withFieldPrefix } from '@sm-nas/arch/wire';
import { common, trainer } from '@sm-nas/proto';
import { InvalidArgumentError } from '@sm-nas/service-kit';
import { join } from 'node:path';
import type { PretrainJobSpec } from './pretrain-job.js';
import type { DatasetSpec, TrainJobSpec } from './train-job.js';

export const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const LIMITS = {
  batchSize: 256,
  datasetImages: 1_000_000,
  imageSizePx: { min: 16, max: 2048 },
  inputScale: { max: 4 },
  widthMultiplier: { max: 4 },
  learningRate: { max: 10 },
} as const;

function inRange(field: string, value: number, min: number, max: number, exclusiveMin = false): number {
  if (!Number.isFinite(value) || (exclusiveMin ? value <= min : value < min) || value > max) {
    throw new InvalidArgumentError(field, `must be ${exclusiveMin ? '>' : '>='} ${min} and <= ${max}, got ${value}`);
  }
  return value;
}

function datasetOf(wire: trainer.DatasetRef | undefined): DatasetSpec {
  const source = wire?.source;
  if (!source) throw new InvalidArgumentError('dataset', 'required: set dataset.builtin or dataset.coco');
  if (source.$case === 'builtin') {
    const b = source.value;
    return {
      kind: 'builtin',
      seed: foldSeed32(b.seed),
      trainImages: inRange('dataset.builtin.train_images', b.trainImages || 1000, 1, LIMITS.datasetImages),
      valImages: inRange('dataset.builtin.val_images', b.valImages || 200, 1, LIMITS.datasetImages),
      imageSizePx: inRange('dataset.builtin.image_size_px', b.imageSizePx || 64, LIMITS.imageSizePx.min, LIMITS.imageSizePx.max),
    };
  }
  const c = source.value;
  for (const [field, value] of [
    ['train_annotations_path', c.trainAnnotationsPath],
    ['train_images_dir', c.trainImagesDir],
    ['val_annotations_path', c.valAnnotationsPath],
    ['val_images_dir', c.valImagesDir],
  ] as const) {
    if (!value) throw new InvalidArgumentError(`dataset.coco.${field}`, 'required');
  }
  return {
    kind: 'coco',
    trainAnnotationsPath: c.trainAnnotationsPath,
    trainImagesDir: c.trainImagesDir,
    valAnnotationsPath: c.valAnnotationsPath,
    valImagesDir: c.valImagesDir,
  };
}

export function trainJobFromRequest(request: trainer.TrainRequest, checkpointDir: string | undefined, newJobId: () => string): TrainJobSpec {
  const jobId = request.jobId || newJobId();
  if (!JOB_ID.test(jobId)) {
    throw new InvalidArgumentError('job_id', 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128');
  }
  const arch = withFieldPrefix('architecture', () => validateArchitecture(architectureFromWire(request.architecture)));
  const dataset = datasetOf(request.dataset);
  const schedule = request.schedule ?? trainer.TrainSchedule.fromPartial({});
  if (schedule.init === trainer.InitMode.UNRECOGNIZED || schedule.init < 0 || schedule.init > 2) {
    throw new InvalidArgumentError('schedule.init', `unknown value ${schedule.init}`);
  }
  const init = schedule.init === trainer.InitMode.INIT_MODE_PRETRAINED ? 'pretrained' : 'scratch';
  if (schedule.lrSchedule === trainer.LrSchedule.UNRECOGNIZED || schedule.lrSchedule < 0 || schedule.lrSchedule > 2) {
    throw new InvalidArgumentError('schedule.lr_schedule', `unknown value ${schedule.lrSchedule}`);
  }
  const lrSchedule = schedule.lrSchedule === trainer.LrSchedule.LR_SCHEDULE_COSINE ? 'cosine' : 'constant';
  if (init === 'pretrained' && !schedule.pretrainedWeightsPath) {
    throw new InvalidArgumentError('schedule.pretrained_weights_path', 'required when schedule.init is INIT_MODE_PRETRAINED');
  }
  const fidelity = request.fidelity;
  const maxSteps = fidelity?.maxSteps ?? 0;
  const maxSeconds = inRange('fidelity.max_seconds', fidelity?.maxSeconds ?? 0, 0, 7 * 24 * 3600);
  if (maxSteps === 0 && maxSeconds === 0) {
    throw new InvalidArgumentError('fidelity.max_steps', 'set fidelity.max_steps or fidelity.max_seconds: a training run needs a budget');
  }
  return {
    jobId,
    arch,
    dataset,
    init,
    ...(schedule.pretrainedWeightsPath ? { pretrainedWeightsPath: schedule.pretrainedWeightsPath } : {}),
    batchSize: inRange('schedule.batch_size', schedule.batchSize || 8, 1, LIMITS.batchSize),
    learningRate: inRange('schedule.learning_rate', schedule.learningRate || 1e-3, 0, LIMITS.learningRate.max, true),
    weightDecay: inRange('schedule.weight_decay', schedule.weightDecay, 0, 1),
    seed: foldSeed32(schedule.seed),
    evalEverySteps: schedule.evalEverySteps,
    lrSchedule,
    inputScale: inRange('fidelity.input_scale', fidelity?.inputScale || 1, 0, LIMITS.inputScale.max, true),
    widthMultiplier: inRange('fidelity.width_multiplier', fidelity?.widthMultiplier || 1, 0, LIMITS.widthMultiplier.max, true),
    maxSteps,
    maxSeconds,
    ...(checkpointDir ? { checkpointDir } : {}),
  };
}

/** Pretrain's dataset is always the built-in one (its crops); COCO input is for Train. */
export function pretrainJobFromRequest(request: trainer.PretrainRequest, dataDir: string | undefined, newJobId: () => string): PretrainJobSpec {
  const jobId = request.jobId || newJobId();
  if (!JOB_ID.test(jobId)) {
    throw new InvalidArgumentError('job_id', 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128');
  }
  if (!request.backbone) throw new InvalidArgumentError('backbone', 'required');
  // Validate the backbone inside a complete architecture (the rest of it is irrelevant here).
  const arch = withFieldPrefix('backbone', () => {
    const wire = architectureFromWire({
      backbone: request.backbone,
      neck: { kind: common.NeckKind.NECK_KIND_C4, startLevel: 0, endLevel: 0, channels: 0, extraSource: 0 },
      rpn: common.RpnKind.RPN_KIND_NONE,
      head: { kind: common.HeadKind.HEAD_KIND_RETINANET, stages: 0, channels: 0 },
      input: { widthPx: 512, heightPx: 512 },
    });
    return validateArchitecture(wire);
  });
  const source = request.dataset?.source;
  if (source && source.$case !== 'builtin') {
    throw new InvalidArgumentError('dataset', 'Pretrain trains on the built-in dataset only; leave it unset or set dataset.builtin');
  }
  const builtin = source?.$case === 'builtin' ? source.value : undefined;
  const schedule = request.schedule ?? trainer.TrainSchedule.fromPartial({});
  const fidelity = request.fidelity;
  const maxSteps = fidelity?.maxSteps ?? 0;
  const maxSeconds = inRange('fidelity.max_seconds', fidelity?.maxSeconds ?? 0, 0, 7 * 24 * 3600);
  if (maxSteps === 0 && maxSeconds === 0) {
    throw new InvalidArgumentError('fidelity.max_steps', 'set fidelity.max_steps or fidelity.max_seconds: a training run needs a budget');
  }
  const outputPath = request.outputPath || (dataDir ? join(dataDir, 'pretrained', `${jobId}.safetensors`) : '');
  if (!outputPath) throw new InvalidArgumentError('output_path', 'required (the trainer has no data directory)');
  return {
    jobId,
    backbone: arch.backbone,
    widthMultiplier: inRange('fidelity.width_multiplier', fidelity?.widthMultiplier || 1, 0, LIMITS.widthMultiplier.max, true),
    seed: foldSeed32(builtin?.seed ?? schedule.seed),
    trainImages: inRange('dataset.builtin.train_images', builtin?.trainImages || 1000, 1, LIMITS.datasetImages),
    imageSizePx: inRange('dataset.builtin.image_size_px', builtin?.imageSizePx || 64, LIMITS.imageSizePx.min, LIMITS.imageSizePx.max),
    cropPx: 32,
    batchSize: inRange('schedule.batch_size', schedule.batchSize || 32, 1, LIMITS.batchSize),
    learningRate: inRange('schedule.learning_rate', schedule.learningRate || 1e-3, 0, LIMITS.learningRate.max, true),
    maxSteps,
    maxSeconds,
    outputPath,
  };
}
