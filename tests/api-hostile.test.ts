// The controller's API as careless and hostile clients use it: oversize specs, a burst of
// CreateSearch calls against the concurrency limit, a hardware class nobody serves, stopping,
// force-stopping and deleting, requests without ids. Every refusal is a status naming what is
// wrong, returned at once; no search is left where no call can end it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLimits } from '@sm-nas/service-kit';
import { controller, type common } from '@sm-nas/proto';
import { ClientError, Status } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiSpec, retinaNet, startApiMesh, until, type ApiMesh } from './fixtures/api-mesh.js';

const { SearchState, CandidateState } = controller;
let mesh: ApiMesh;

beforeAll(async () => {
  mesh = await startApiMesh({ limits: loadLimits({ SM_NAS_MAX_CONCURRENT_SEARCHES: '4' }), profilerWaitMs: 60 * 60_000 });
}, 60_000);
afterAll(async () => mesh?.stop());

async function status(call: Promise<unknown>): Promise<ClientError> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ClientError);
  return error as ClientError;
}

const state = async (searchId: string) => (await mesh.client.getSearch({ searchId })).search!;

describe('the controller API under careless clients', () => {
  it('refuses a spec larger than NATS takes at once, naming the field, and keeps nothing of it', async () => {
    const t0 = Date.now();
    const big = await status(mesh.client.createSearch({ searchId: 'too-big', spec: apiSpec({ displayName: 'x'.repeat(3 * 2 ** 20) }) }));
    expect(big.code).toBe(Status.INVALID_ARGUMENT);
    expect(big.details).toMatch(/^spec\.display_name: at most 256 characters, got 3145728/);
    // Under every string bound, over nats-server's max_payload (1 MiB) all the same.
    const many = apiSpec({ initialArchitectures: Array.from({ length: 30_000 }, () => retinaNet()) });
    const e = await status(mesh.client.createSearch({ searchId: 'too-many', spec: many }));
    expect(e.code).toBe(Status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/^spec\.initial_architectures: [\d.]+ MiB of a spec of [\d.]+ MiB; a spec must fit in 1\.00 MiB/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    for (const searchId of ['too-big', 'too-many']) expect((await status(mesh.client.getSearch({ searchId }))).code).toBe(Status.NOT_FOUND);
    expect(mesh.logs.filter((l) => l.includes('retrying'))).toEqual([]);
  });

  it('refuses profiling settings its profiler would refuse, before the search exists', async () => {
    const e = await status(mesh.client.createSearch({ searchId: 'short-rounds', spec: apiSpec({ profiling: { targetCoefficientOfVariation: 0.05, maxSeconds: 5, iterationsPerRound: 2 } }) }));
    expect(e.code).toBe(Status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/^spec\.profiling\.iterations_per_round: must be 0 \(the default\) or from 5 /);
    expect((await status(mesh.client.getSearch({ searchId: 'short-rounds' }))).code).toBe(Status.NOT_FOUND);
  });

  it("passes the suggestion service's field names through once", async () => {
    const population = await status(mesh.client.createSearch({ searchId: 'crowd', spec: apiSpec({ algorithm: { name: 'evolution', settings: {}, suggestionAddress: '' }, structural: { maxCandidates: 3, populationSize: 1, paretoModels: 0 } }) }));
    expect(population.code).toBe(Status.INVALID_ARGUMENT);
    expect(population.details).toMatch(/^spec\.structural\.population_size: expected \d+ to \d+/);
    const setting = await status(mesh.client.createSearch({ searchId: 'crowd', spec: apiSpec({ algorithm: { name: 'random', settings: { colour: 'blue' }, suggestionAddress: '' } }) }));
    expect(setting.details).toMatch(/^spec\.algorithm\.settings\.colour: unknown setting for random/);
  });

  it('says a search id is required rather than not found', async () => {
    for (const call of [mesh.client.getSearch({ searchId: '' }), mesh.client.stopSearch({ searchId: '', force: false }), mesh.client.deleteSearch({ searchId: '' })]) {
      const e = await status(call);
      expect(e.code).toBe(Status.INVALID_ARGUMENT);
      expect(e.details).toBe('search_id: required');
    }
  });

  it('refuses a stage that is no stage', async () => {
    await mesh.client.createSearch({ searchId: 'stages', spec: apiSpec() });
    for (const call of [mesh.client.getParetoFront({ searchId: 'stages', stage: 7 as common.SearchStage }), mesh.client.listCandidates({ searchId: 'stages', stage: -1 as common.SearchStage, pageSize: 0, pageToken: '' })]) {
      const e = await status(call);
      expect(e.code).toBe(Status.INVALID_ARGUMENT);
      expect(e.details).toMatch(/^stage: unknown value (7|-1)/);
    }
    await mesh.client.stopSearch({ searchId: 'stages', force: true });
  });

  it('admits searches atomically: a burst of creations never runs more than the limit', async () => {
    await mesh.client.createSearch({ searchId: 'first', spec: apiSpec() });
    const burst = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => mesh.client.createSearch({ searchId: `burst-${i}`, spec: apiSpec() })));
    const accepted = burst.filter((r) => r.status === 'fulfilled');
    const refused = burst.flatMap((r) => (r.status === 'rejected' ? [r.reason as ClientError] : []));
    expect(accepted).toHaveLength(3);
    expect(refused.map((e) => e.code)).toEqual([Status.RESOURCE_EXHAUSTED, Status.RESOURCE_EXHAUSTED, Status.RESOURCE_EXHAUSTED]);
    const { searches } = await mesh.client.listSearches({ pageSize: 0, pageToken: '' });
    expect(searches.filter((s) => s.state === SearchState.SEARCH_STATE_RUNNING || s.state === SearchState.SEARCH_STATE_PENDING)).toHaveLength(4);
    // The same id twice at once: one creation, one ALREADY_EXISTS.
  });

  it('stops a search waiting for a profiler nobody runs, force-stops one, and deletes them; the slots come back', async () => {
    // `first` waits for a profiler of its class: STOPPING ends its waits, and it is STOPPED.
    await until(async () => (await state('first')).candidatesFailed + (await mesh.client.listCandidates({ searchId: 'first', stage: 0, pageSize: 0, pageToken: '' })).candidates.length > 0, 20_000, 'first proposes');
    const stopping = (await mesh.client.stopSearch({ searchId: 'first', force: false })).search!;
    expect([SearchState.SEARCH_STATE_STOPPING, SearchState.SEARCH_STATE_STOPPED]).toContain(stopping.state);
    await until(async () => (await state('first')).state === SearchState.SEARCH_STATE_STOPPED, 20_000, 'first STOPPED');
    const first = await mesh.client.listCandidates({ searchId: 'first', stage: 0, pageSize: 0, pageToken: '' });
    for (const c of first.candidates) {
      expect(c.state).toBe(CandidateState.CANDIDATE_STATE_FAILED);
      expect(c.failureReason).toMatch(/search stopped \(StopSearch\) before this candidate was trained/);
    }
    // A stopped search cannot be stopped again; one that succeeded could not be resumed.
    expect((await status(mesh.client.stopSearch({ searchId: 'first', force: false }))).code).toBe(Status.FAILED_PRECONDITION);

    // Force: STOPPED in the call's answer, every candidate ended.
    const forced = (await mesh.client.stopSearch({ searchId: 'burst-0', force: true })).search!;
    expect(forced.state).toBe(SearchState.SEARCH_STATE_STOPPED);
    expect(forced.failureReason).toBe('force-stopped by StopSearch');
    const burst0 = await mesh.client.listCandidates({ searchId: 'burst-0', stage: 0, pageSize: 0, pageToken: '' });
    expect(burst0.candidates.every((c) => c.state === CandidateState.CANDIDATE_STATE_FAILED)).toBe(true);

    // A running search cannot be deleted; an ended one can, and its id is free again.
    const running = await status(mesh.client.deleteSearch({ searchId: 'burst-1' }));
    expect(running.code).toBe(Status.FAILED_PRECONDITION);
    expect(running.details).toMatch(/stop it first/);
    await until(() => existsSync(join(mesh.resultsDir, 'first', 'pareto.json')), 10_000, "the stopped search's results");
    await mesh.client.deleteSearch({ searchId: 'first' });
    expect(existsSync(join(mesh.resultsDir, 'first'))).toBe(false);
    expect((await status(mesh.client.getSearch({ searchId: 'first' }))).code).toBe(Status.NOT_FOUND);
    expect((await status(mesh.client.deleteSearch({ searchId: 'first' }))).code).toBe(Status.NOT_FOUND);
    // Two slots are free (first, burst-0): `first` again, and one more.
    await mesh.client.createSearch({ searchId: 'first', spec: apiSpec({ displayName: 'again' }) });
    expect((await state('first')).spec?.displayName).toBe('again');
    await mesh.client.createSearch({ searchId: 'after', spec: apiSpec() });

    // A restarted controller holds the same: `first` is the new one, burst-0 is stopped.
    await mesh.stopController();
    await mesh.startController({ limits: loadLimits({ SM_NAS_MAX_CONCURRENT_SEARCHES: '4' }), profilerWaitMs: 1500 });
    expect((await state('first')).spec?.displayName).toBe('again');
    expect((await state('burst-0')).state).toBe(SearchState.SEARCH_STATE_STOPPED);
  }, 90_000);

  it('fails a search whose hardware class no profiler serves, after the bounded wait, with the reason', async () => {
    // The controller restarted above waits 1.5 s for a profiler: every running search fails.
    for (const searchId of ['first', 'burst-1', 'burst-2', 'after']) {
      await until(async () => (await state(searchId)).state === SearchState.SEARCH_STATE_FAILED, 30_000, `${searchId} FAILED`).catch((e: unknown) => {
        console.log(mesh.logs.slice(-30).join('\n'));
        throw e;
      });
      const s = await state(searchId);
      expect(s.failureReason).toMatch(/^no profiler serves hardware class "gpu\.nobody-serves-this\.webgpu-dawn-0\.6" \(none answered for 2 s\); deploy one/);
    }
    // A search created through the API gets its results folder when it ends, reason included.
    const pareto = join(mesh.resultsDir, 'first', 'pareto.json');
    await until(() => existsSync(pareto), 10_000, 'results of the failed search');
    const written = JSON.parse(readFileSync(pareto, 'utf8')) as { search: { state: string; failureReason: string; candidatesEvaluated: number } };
    expect(written.search.state).toBe('SEARCH_STATE_FAILED');
    expect(written.search.failureReason).toMatch(/^no profiler serves hardware class/);
    expect(written.search.candidatesEvaluated).toBe(0);
    // Failed searches hold no slot: four new ones are admitted.
    for (let i = 0; i < 4; i++) await mesh.client.createSearch({ searchId: `later-${i}`, spec: apiSpec() });
    expect((await status(mesh.client.createSearch({ searchId: 'one-too-many', spec: apiSpec() }))).code).toBe(Status.RESOURCE_EXHAUSTED);
    // A failed search can be resumed (a profiler may exist by now), a deleted one not at all.
    for (let i = 0; i < 4; i++) await mesh.client.stopSearch({ searchId: `later-${i}`, force: true });
  }, 60_000);

  it('replays after a DeleteSearch that purged the journal\'s last entries', async () => {
    await mesh.client.createSearch({ searchId: 'last-one', spec: apiSpec() });
    await mesh.client.stopSearch({ searchId: 'last-one', force: true });
    await mesh.client.deleteSearch({ searchId: 'last-one' });
    await mesh.stopController();
    const t0 = Date.now();
    await mesh.startController({ limits: loadLimits({ SM_NAS_MAX_CONCURRENT_SEARCHES: '4' }), profilerWaitMs: 1500 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await status(mesh.client.getSearch({ searchId: 'last-one' }))).code).toBe(Status.NOT_FOUND);
  }, 30_000);
});
