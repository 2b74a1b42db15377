// Twenty searches in every state a search can be in when its controller dies (succeeded, failed for
// a hardware class nobody serves, running, stopping, stopped, force-stopped, deleted), then a
// SIGKILL of the controller process and a restart, as a supervisor would: every search comes back
// in the same state with the same counts and candidates, the deleted stay deleted, and the
// concurrency limit counts the same searches (new ones are admitted up to it, and no further).
//
// The local mesh runs as separate processes (the services `sm-nas search` starts). Its trainer is
// killed once the finished searches have finished, so the running and stopping ones stay where
// they are: each has a candidate whose training job waits in the work queue.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNatsServer, type NatsServer } from '@sm-nas/bus';
import { startLocalMesh, type LocalMesh } from '@sm-nas/cli';
import { controller, profiler } from '@sm-nas/proto';
import { createChannel, createClient, Status, type Channel, type Client, type ClientError } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinySpec } from './fixtures/search-mesh.js';

const { SearchState, CandidateState } = controller;

let dir: string;
let nats: NatsServer;
let mesh: LocalMesh;
let channel: Channel;
let client: Client<typeof controller.ControllerServiceDefinition>;
let hardwareClass: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sm-nas-restart-'));
  nats = await startNatsServer({ jetstream: true, storeDir: join(dir, 'jetstream') });
  mesh = await startLocalMesh({
    dataDir: dir,
    natsUrl: nats.url,
    log: process.env.SM_NAS_TEST_LOG ? 'inherit' : 'ignore',
    env: { SM_NAS_MAX_CONCURRENT_SEARCHES: '8', SM_NAS_PROFILER_WAIT_SECONDS: '2', TRAINER_JOB_ACK_WAIT_SECONDS: '5' },
  });
  channel = createChannel(mesh.addresses.controller!);
  client = createClient(controller.ControllerServiceDefinition, channel);
  const pc = createChannel(mesh.addresses.profiler!);
  hardwareClass = (await createClient(profiler.ProfilerServiceDefinition, pc).describe({})).hardware!.hardwareClass;
  pc.close();
}, 300_000);

afterAll(async () => {
  channel?.close();
  await mesh?.stop();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const get = async (searchId: string) => (await client.getSearch({ searchId })).search!;
const candidatesOf = async (searchId: string) => (await client.listCandidates({ searchId, stage: 0, pageSize: 0, pageToken: '' })).candidates;
const inState = (state: controller.SearchState) => async (searchId: string) => (await get(searchId)).state === state;
/** A candidate of the search waits for its training (its job queued): the search cannot move on its own. */
const waitsForTraining = async (searchId: string) => (await candidatesOf(searchId)).some((c) => c.state === CandidateState.CANDIDATE_STATE_EVALUATING);

/** One structural candidate (the baseline), trained in a couple of seconds: a search that finishes. */
const small = () => tinySpec({ hardwareClass, structural: { maxCandidates: 1, populationSize: 1, paretoModels: 1 }, modular: { maxCandidates: 0, populationSize: 0, paretoModels: 0 }, parallelism: 1 });
/** Many candidates, one at a time: a search that runs for as long as the test needs. */
const long = () => tinySpec({ hardwareClass, structural: { maxCandidates: 50, populationSize: 4, paretoModels: 1 }, modular: { maxCandidates: 0, populationSize: 0, paretoModels: 0 }, parallelism: 1 });

describe('a controller SIGKILL with twenty searches in mixed states', () => {
  it('keeps every state, count and candidate, the deleted gone, and the limit counting the same', async () => {
    const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const groups = {
      succeeded: ids('succeeded', 3),
      failedClass: ids('failed-class', 5),
      running: ids('running', 4),
      stopping: ids('stopping', 2),
      stopped: ids('stopped', 2),
      forced: ids('forced', 2),
      deleted: ids('deleted', 2),
    };

    for (const id of groups.succeeded) await client.createSearch({ searchId: id, spec: small() });
    for (const id of groups.succeeded) await until(`${id} SUCCEEDED`, () => inState(SearchState.SEARCH_STATE_SUCCEEDED)(id));
    for (const id of groups.failedClass) await client.createSearch({ searchId: id, spec: { ...small(), hardwareClass: 'gpu.nobody-serves-this.webgpu-dawn-0.6' } });
    for (const id of groups.failedClass) await until(`${id} FAILED`, () => inState(SearchState.SEARCH_STATE_FAILED)(id));

    // From here on no training happens: every search below has a candidate whose job waits.
    await mesh.kill('trainer');
    // Eight slots: running, stopping and the ones to force-stop fill them.
    const first = [...groups.running, ...groups.stopping, ...groups.forced];
    for (const id of first) await client.createSearch({ searchId: id, spec: long() });
    for (const id of first) await until(`${id} waits for training`, () => waitsForTraining(id));
    for (const id of groups.stopping) expect((await client.stopSearch({ searchId: id, force: false })).search!.state).toBe(SearchState.SEARCH_STATE_STOPPING);
    for (const id of groups.forced) expect((await client.stopSearch({ searchId: id, force: true })).search!.state).toBe(SearchState.SEARCH_STATE_STOPPED);
    // Two slots are free again: two searches stopped (without force) once their candidate was
    // handed to training... which never ends here, so StopSearch leaves them STOPPING; force ends them.
    for (const id of groups.stopped) await client.createSearch({ searchId: id, spec: long() });
    for (const id of groups.stopped) await until(`${id} waits for training`, () => waitsForTraining(id));
    for (const id of groups.stopped) {
      expect((await client.stopSearch({ searchId: id, force: false })).search!.state).toBe(SearchState.SEARCH_STATE_STOPPING);
      expect((await client.stopSearch({ searchId: id, force: true })).search!.state).toBe(SearchState.SEARCH_STATE_STOPPED);
    }
    for (const id of groups.deleted) {
      await client.createSearch({ searchId: id, spec: long() });
      await client.stopSearch({ searchId: id, force: true });
      await client.deleteSearch({ searchId: id });
    }

    const kept = [...groups.succeeded, ...groups.failedClass, ...groups.running, ...groups.stopping, ...groups.stopped, ...groups.forced];
    expect(kept.length + groups.deleted.length).toBe(20);
    const snapshot = async () =>
      Object.fromEntries(await Promise.all(kept.map(async (id) => [id, { search: await get(id), candidates: await candidatesOf(id) }] as const)));
    const before = await snapshot();
    const expected: [string[], controller.SearchState][] = [
      [groups.succeeded, SearchState.SEARCH_STATE_SUCCEEDED],
      [groups.failedClass, SearchState.SEARCH_STATE_FAILED],
      [groups.running, SearchState.SEARCH_STATE_RUNNING],
      [groups.stopping, SearchState.SEARCH_STATE_STOPPING],
      [[...groups.stopped, ...groups.forced], SearchState.SEARCH_STATE_STOPPED],
    ];
    for (const [group, state] of expected) for (const id of group) expect(before[id]!.search.state, id).toBe(state);

    await mesh.kill('controller');
    await mesh.restart('controller');

    const after = await snapshot();
    for (const id of kept) {
      expect(after[id]!.search, id).toEqual(before[id]!.search);
      expect(after[id]!.candidates, id).toEqual(before[id]!.candidates);
    }
    for (const id of groups.deleted) {
      const error = await client.getSearch({ searchId: id }).then(() => undefined, (e: unknown) => e);
      expect((error as ClientError).code, id).toBe(Status.NOT_FOUND);
    }
    // Six searches hold slots (running and stopping) of eight: two more are admitted, a third not.
    await client.createSearch({ searchId: 'new-0', spec: long() });
    await client.createSearch({ searchId: 'new-1', spec: long() });
    const refused = await client.createSearch({ searchId: 'new-2', spec: long() }).then(() => undefined, (e: unknown) => e);
    expect((refused as ClientError).code).toBe(Status.RESOURCE_EXHAUSTED);
    expect((refused as ClientError).details).toMatch(/^searches: 8 running, the limit is 8/);
  }, 600_000);
});
