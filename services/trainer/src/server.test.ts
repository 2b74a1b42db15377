// The trainer over real gRPC on 127.0.0.1: a streamed training run, stored results for a job id seen
// before, bad requests naming their field, and a cancelled call that leaves the server serving.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCanonical } from '@sm-nas/arch';
import { architectureToWire } from '@sm-nas/arch/wire';
import { trainer } from '@sm-nas/proto';
import type { RunningServer } from '@sm-nas/service-kit';
import { ClientError, Status, createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrainerServer } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'trainer-svc-'));
let server: RunningServer;
let channel: Channel;
let client: Client<typeof trainer.TrainerServiceDefinition>;

beforeAll(async () => {
  server = await startTrainerServer({ host: '127.0.0.1', port: 0, dataDir: dir, logger: { info: () => {}, error: () => {} } });
  channel = createChannel(server.address);
  client = createClient(trainer.TrainerServiceDefinition, channel);
});
afterAll(async () => {
  channel.close();
  await server.shutdown({ graceMs: 1000 });
  rmSync(dir, { recursive: true, force: true });
});

function request(jobId: string, maxSteps = 4): trainer.TrainRequest {
  return {
    jobId,
    architecture: architectureToWire(parseCanonical('resnet18:64:11-21-21-21/fpn:3-5:256/none/retinanet:256/512x512')),
    dataset: { source: { $case: 'builtin', value: { seed: 3n, trainImages: 8, valImages: 4, imageSizePx: 64 } } },
    schedule: trainer.TrainSchedule.fromPartial({ batchSize: 4, learningRate: 1e-3 }),
    fidelity: { inputScale: 1 / 8, widthMultiplier: 0.125, maxSteps, maxSeconds: 0 },
  };
}

async function all(stream: AsyncIterable<trainer.TrainResponse>): Promise<trainer.TrainResponse[]> {
  const out: trainer.TrainResponse[] = [];
  for await (const r of stream) out.push(r);
  return out;
}

describe('TrainerService over gRPC', () => {
  it('streams progress then the result, and answers a repeated job id from its store', async () => {
    const first = await all(client.train(request('job-a')));
    const result = first.at(-1)!.event;
    expect(result?.$case).toBe('result');
    if (result?.$case !== 'result') return;
    expect(result.value.status).toBe(trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED);
    expect(result.value.steps).toBe(4);
    expect(result.value.checkpointUri).toMatch(/^file:\/\/.*job-a\.safetensors$/);
    expect(first.some((r) => r.event?.$case === 'progress')).toBe(true);

    const again = await all(client.train(request('job-a')));
    expect(again).toHaveLength(1);
    expect(again[0]).toEqual(first.at(-1));
  }, 120_000);

  it('refuses requests without a dataset or a budget, naming the field', async () => {
    const cases: [trainer.TrainRequest, string][] = [
      [{ ...request('x'), dataset: undefined }, 'dataset'],
      [{ ...request('x'), fidelity: { inputScale: 1, widthMultiplier: 1, maxSteps: 0, maxSeconds: 0 } }, 'fidelity.max_steps'],
      [{ ...request('x'), architecture: undefined }, 'architecture'],
      [{ ...request('bad id/..') }, 'job_id'],
      [{ ...request('x'), schedule: trainer.TrainSchedule.fromPartial({ lrSchedule: 7 as trainer.LrSchedule }) }, 'schedule.lr_schedule'],
    ];
    for (const [req, field] of cases) {
      const error = await all(client.train(req)).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).code).toBe(Status.INVALID_ARGUMENT);
      expect((error as ClientError).details.startsWith(field)).toBe(true);
    }
  });

  it('takes every uint64 seed off the wire (2^53, 2^63, 2^64-1): the request reaches validation', async () => {
    // Without a budget the request is refused at fidelity.max_steps, after the dataset and schedule
    // (and their seeds) were read: a seed the wire cannot decode would be INTERNAL instead.
    for (const seed of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
      const req: trainer.TrainRequest = {
        ...request('x'),
        dataset: { source: { $case: 'builtin', value: { seed, trainImages: 8, valImages: 4, imageSizePx: 64 } } },
        schedule: trainer.TrainSchedule.fromPartial({ batchSize: 4, learningRate: 1e-3, seed }),
        fidelity: { inputScale: 1, widthMultiplier: 1, maxSteps: 0, maxSeconds: 0 },
      };
      const error = await all(client.train(req)).then(() => undefined, (e: unknown) => e);
      expect((error as ClientError).code, (error as ClientError).details).toBe(Status.INVALID_ARGUMENT);
      expect((error as ClientError).details).toMatch(/^fidelity\.max_steps: /);
    }
  });

  it('stops a run whose call is cancelled and keeps serving', async () => {
    const controller = new AbortController();
    const seen: trainer.TrainResponse[] = [];
    const error = await (async () => {
      for await (const r of client.train(request('job-cancel', 100_000), { signal: controller.signal })) {
        seen.push(r);
        controller.abort();
      }
    })().then(() => undefined, (e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    // The next job runs (it waited for the cancelled one to stop, not to finish 100,000 steps).
    const next = await all(client.train(request('job-after', 2)));
    expect(next.at(-1)?.event?.$case).toBe('result');
  }, 120_000);
});
