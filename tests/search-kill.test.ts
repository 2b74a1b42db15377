// Kill tests: the local mesh as separate processes (the services `sm-nas search` starts), one search,
// and in its middle a SIGKILL of the controller, of the trainer while it trains a job, of the
// profiler, and of nats-server (restarted on the same store); each comes back as a supervisor would
// restart it. The search must complete with every candidate evaluated exactly once: nothing the
// journal recorded before a kill is lost or changed, and no training result is stored twice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, KV_BUCKETS, startNatsServer, STREAMS, TRAINERS_DURABLE, type Bus, type NatsServer } from '@sm-nas/bus';
import { startLocalMesh, type LocalMesh } from '@sm-nas/cli';
import { controller, profiler } from '@sm-nas/proto';
import { createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quiet, tinySpec } from './fixtures/search-mesh.js';

const { SearchState, CandidateState } = controller;

let dir: string;
let nats: NatsServer;
let mesh: LocalMesh;
let bus: Bus;
let channel: Channel;
let client: Client<typeof controller.ControllerServiceDefinition>;
let hardwareClass: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sm-nas-kill-'));
  nats = await startNatsServer({ jetstream: true, storeDir: join(dir, 'jetstream') });
  // A job silent for 5 s goes to another trainer: a killed trainer's job comes back quickly.
  mesh = await startLocalMesh({ dataDir: dir, natsUrl: nats.url, log: 'ignore', env: { TRAINER_JOB_ACK_WAIT_SECONDS: '5' } });
  bus = await connectBus({ servers: nats.url, name: 'kill-test', logger: quiet, connectOptions: { maxReconnectAttempts: -1, reconnectTimeWait: 200 } });
  channel = createChannel(mesh.addresses.controller!);
  client = createClient(controller.ControllerServiceDefinition, channel);
  const pc = createChannel(mesh.addresses.profiler!);
  hardwareClass = (await createClient(profiler.ProfilerServiceDefinition, pc).describe({})).hardware!.hardwareClass;
  pc.close();
}, 300_000);

afterAll(async () => {
  channel?.close();
  await bus?.close();
  await mesh?.stop();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Retries through the moments the controller (or NATS under it) is down. */
async function search(): Promise<controller.Search> {
  for (;;) {
    try {
      return (await client.getSearch({ searchId: 'killed' }, { signal: AbortSignal.timeout(5000) })).search!;
    } catch {
      await sleep(500);
    }
  }
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const settled = async () => {
  const s = await search();
  return s.candidatesEvaluated + s.candidatesFailed;
};

async function candidates(): Promise<controller.Candidate[]> {
  return (await client.listCandidates({ searchId: 'killed', stage: 0, pageSize: 0, pageToken: '' })).candidates;
}

describe('a search survives SIGKILL', () => {
  it('of the controller, a trainer, the profiler and nats-server', async () => {
    const spec = tinySpec({
      hardwareClass,
      structural: { maxCandidates: 4, populationSize: 4, paretoModels: 2 },
      modular: { maxCandidates: 2, populationSize: 2, paretoModels: 0 },
      parallelism: 1,
      algorithm: { name: 'random', suggestionAddress: '', settings: {} },
      profiling: { targetCoefficientOfVariation: 0.5, maxSeconds: 1, iterationsPerRound: 5 },
    });
    await client.createSearch({ spec, searchId: 'killed' });

    // The controller, once a candidate is evaluated: the replayed state keeps it as it was.
    await until('a first evaluation', async () => (await settled()) >= 1);
    const before = (await candidates()).filter((c) => c.state === CandidateState.CANDIDATE_STATE_SUCCEEDED);
    await mesh.kill('controller');
    await mesh.restart('controller');
    const after = await candidates();
    for (const c of before) expect(after.find((a) => a.candidateId === c.candidateId)).toEqual(c);

    // The trainer, while it holds a job: JetStream redelivers the job to the restarted trainer.
    await until('a job in training', async () => (await bus.jsm.consumers.info(STREAMS.trainJobs.name, TRAINERS_DURABLE)).num_ack_pending > 0);
    await mesh.kill('trainer');
    await sleep(1000);
    await mesh.restart('trainer');

    // The profiler, between measurements or in one: the controller retries until it is back.
    const n = await settled();
    await until('the next evaluation', async () => (await settled()) > n);
    await mesh.kill('profiler');
    await sleep(2000);
    await mesh.restart('profiler');

    // nats-server itself, restarted on the same store and port.
    const m = await settled();
    await until('the next evaluation', async () => (await settled()) > m);
    await nats.kill('SIGKILL');
    await sleep(1000);
    await nats.restart();

    await until('the end of the search', async () => [SearchState.SEARCH_STATE_SUCCEEDED, SearchState.SEARCH_STATE_FAILED].includes((await search()).state));
    const final = await search();
    expect(final.failureReason).toBe('');
    expect(final.state).toBe(SearchState.SEARCH_STATE_SUCCEEDED);
    const all = await candidates();
    expect(all).toHaveLength(6);
    for (const c of all) {
      expect(c.failureReason).toBe('');
      expect(c.state).toBe(CandidateState.CANDIDATE_STATE_SUCCEEDED);
    }
    expect(new Set(all.map((c) => c.architecture?.id)).size).toBe(6);
    for (const c of before) expect(all.find((a) => a.candidateId === c.candidateId)).toEqual(c);

    // Each job's result was stored once: no job was trained again after it had a result.
    const kv = await bus.js.views.kv(KV_BUCKETS.trainResults);
    for (const c of all) {
      const revisions = [];
      for await (const entry of await kv.history({ key: `killed.${c.candidateId}` })) revisions.push(entry.revision);
      expect(revisions, c.candidateId).toHaveLength(1);
    }
  }, 900_000);
});
