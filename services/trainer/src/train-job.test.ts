// Real training jobs at a tiny fidelity on the built-in dataset: they learn, they fail cleanly when
// they diverge, and they stop when cancelled.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCanonical } from '@sm-nas/arch';
import { SHAPE_CLASSES } from '@sm-nas/data';
import { createDetector, trainStepBytes, trainStepMemory, type TrainStepMemory } from '@sm-nas/detector';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from './safetensors.js';
import { HORIZON_TIMING_STEPS, runTrainJob, twoStageAtFidelity, type TrainEvent, type TrainJobSpec, type TrainResultEvent } from './train-job.js';

const dir = mkdtempSync(join(tmpdir(), 'trainer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tinyJob(overrides: Partial<TrainJobSpec> = {}): TrainJobSpec {
  return {
    jobId: 'tiny',
    // 512x512 at input scale 1/8 trains on 64x64 images.
    arch: parseCanonical('resnet18:64:11-21-21-21/fpn:3-5:256/none/retinanet:256/512x512'),
    dataset: { kind: 'builtin', seed: 1, trainImages: 16, valImages: 8, imageSizePx: 64 },
    init: 'scratch',
    batchSize: 4,
    learningRate: 1e-3,
    weightDecay: 1e-4,
    seed: 0,
    evalEverySteps: 0,
    inputScale: 1 / 8,
    widthMultiplier: 0.125,
    maxSteps: 6,
    maxSeconds: 0,
    checkpointDir: dir,
    ...overrides,
  };
}

/** libs/detector's estimate for the job's detector (built as runTrainJob builds it). */
function estimate(spec: TrainJobSpec): TrainStepMemory {
  const det = createDetector(spec.arch, {
    numClasses: SHAPE_CLASSES.length, norm: 'group_norm', fidelity: { inputScale: spec.inputScale, widthMultiplier: spec.widthMultiplier },
    twoStage: twoStageAtFidelity(spec.inputScale),
  });
  try {
    return trainStepMemory(det);
  } finally {
    det.dispose();
  }
}

/** A memory limit under which `images` a pass just fit (planTrainStep keeps a tenth free). */
const limitFor = (memory: TrainStepMemory, images: number, split: boolean) => Math.ceil(trainStepBytes(memory, images, split) / 0.9) + 1;

async function collect(job: AsyncGenerator<TrainEvent>): Promise<{ events: TrainEvent[]; result: TrainResultEvent }> {
  const events: TrainEvent[] = [];
  for await (const e of job) events.push(e);
  const result = events.at(-1);
  if (result?.kind !== 'result') throw new Error('the last event must be the result');
  return { events, result };
}

describe('runTrainJob', () => {
  it('anneals a cosine over a budget in seconds at the steps that fit, timed on its first steps', async () => {
    const { events, result } = await collect(runTrainJob(tinyJob({ maxSteps: 0, maxSeconds: 4, lrSchedule: 'cosine', checkpointDir: undefined })));
    expect(result.status).toBe('succeeded');
    const horizons = [...new Set(events.flatMap((e) => (e.kind === 'progress' ? [e.maxSteps] : [])).filter((h) => h > 0))];
    // Fixed once, after the first step and HORIZON_TIMING_STEPS timed ones.
    expect(horizons).toHaveLength(1);
    const horizon = horizons[0]!;
    expect(horizon).toBeGreaterThan(1 + HORIZON_TIMING_STEPS);
    // It ends at the horizon, or at the seconds if the machine slowed down after the timing.
    expect(result.steps).toBeLessThanOrEqual(horizon);
    expect(result.steps === horizon || result.trainSeconds >= 4).toBe(true);
    // The horizon is what the seconds hold at the measured pace (within a factor 2, for the load).
    const pace = result.trainSeconds / result.steps;
    expect(horizon * pace).toBeGreaterThan(4 / 2);
    expect(horizon * pace).toBeLessThan(4 * 2);
    // With a step budget too, the horizon is the smaller of the two.
    const capped = await collect(runTrainJob(tinyJob({ maxSteps: 8, maxSeconds: 600, lrSchedule: 'cosine', checkpointDir: undefined })));
    expect(capped.result.steps).toBe(8);
    expect(new Set(capped.events.flatMap((e) => (e.kind === 'progress' && e.maxSteps > 0 ? [e.maxSteps] : [])))).toEqual(new Set([8]));
  }, 120_000);

  it('trains, reports progress, evaluates and writes a checkpoint', async () => {
    const { events, result } = await collect(runTrainJob(tinyJob({ evalAtSteps: [4, 2], warmupSteps: 3 })));
    expect(result.failureReason).toBe('');
    expect(result.status).toBe('succeeded');
    expect(result.steps).toBe(6);
    const progress = events.filter((e) => e.kind === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.kind === 'progress' && progress.at(-1)!.step).toBe(6);
    // The learning curve: one evaluation at each requested step, in order.
    expect(progress.flatMap((e) => (e.kind === 'progress' && e.validation ? [e.step] : []))).toEqual([2, 4]);
    // The 12 COCO numbers exist and are in range (learning itself is measured in bench/).
    expect(result.metrics!.ap50).toBeGreaterThanOrEqual(0);
    expect(result.metrics!.ap50).toBeLessThanOrEqual(1);
    expect(existsSync(result.checkpointPath)).toBe(true);
    const { tensors, metadata } = await readSafetensors(result.checkpointPath);
    expect(metadata.steps).toBe('6');
    expect(tensors.size).toBeGreaterThan(10);
  }, 120_000);

  it('ends a diverging run as FAILED with its reason', async () => {
    const { result } = await collect(runTrainJob(tinyJob({ jobId: 'diverge', learningRate: 1e12, warmupSteps: 0, weightDecay: 0, maxSteps: 20, checkpointDir: undefined })));
    expect(result.status).toBe('failed');
    expect(result.failureReason).toMatch(/diverged: loss is (NaN|Infinity)/);
  }, 120_000);

  it('runs a batch over the memory limit as micro-batches', async () => {
    const spec = tinyJob({ jobId: 'micro', maxSteps: 2, checkpointDir: undefined });
    const { result } = await collect(runTrainJob({ ...spec, memoryLimitBytes: limitFor(estimate(spec), 2, true) }));
    expect(result.failureReason).toBe('');
    expect(result).toMatchObject({ status: 'succeeded', steps: 2, microBatch: 2 });
    const whole = await collect(runTrainJob({ ...spec, jobId: 'whole', maxSteps: 1 }));
    expect(whole.result).toMatchObject({ status: 'succeeded', microBatch: 4 });
  }, 120_000);

  it('refuses a batch over the memory limit before the first step, with the estimate and the batch that fits', async () => {
    // A two-stage detector samples and normalises over the batch: no micro-batches.
    const spec = tinyJob({ jobId: 'too-big', arch: parseCanonical('resnet18:64:11-21-21-21/fpn:2-5:256/rpn/faster_rcnn:256/512x512'), checkpointDir: undefined });
    const { events, result } = await collect(runTrainJob({ ...spec, memoryLimitBytes: limitFor(estimate(spec), 3, false) }));
    expect(events.filter((e) => e.kind === 'progress')).toEqual([]);
    expect(result).toMatchObject({ status: 'failed', steps: 0, microBatch: 0 });
    expect(result.failureReason).toMatch(
      /^batch 4 needs ~\d+\.\d GiB for a training step at 64x64 \(input scale 0\.125, width 0\.125; estimated: .* GiB an image\); the job's memory limit is \d+\.\d GiB \(a two-stage detector's batch does not run as micro-batches: .*\); batch 3 fits: use schedule\.batch_size 3 \(sm-nas train --batch 3\)/,
    );
  }, 120_000);

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    const job = runTrainJob(tinyJob({ jobId: 'cancel', maxSteps: 1000, checkpointDir: undefined }), controller.signal);
    const events: TrainEvent[] = [];
    for await (const e of job) {
      events.push(e);
      if (e.kind === 'progress') controller.abort();
    }
    const result = events.at(-1) as TrainResultEvent;
    expect(result.status).toBe('cancelled');
    expect(result.steps).toBeLessThan(1000);
  }, 120_000);
});
