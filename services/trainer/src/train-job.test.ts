// Real training jobs at a tiny fidelity on the built-in dataset: they learn, they fail cleanly when
// they diverge, and they stop when cancelled.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCanonical } from '@sm-nas/arch';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from './safetensors.js';
import { runTrainJob, type TrainEvent, type TrainJobSpec, type TrainResultEvent } from './train-job.js';

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

async function collect(job: AsyncGenerator<TrainEvent>): Promise<{ events: TrainEvent[]; result: TrainResultEvent }> {
  const events: TrainEvent[] = [];
  for await (const e of job) events.push(e);
  const result = events.at(-1);
  if (result?.kind !== 'result') throw new Error('the last event must be the result');
  return { events, result };
}

describe('runTrainJob', () => {
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
