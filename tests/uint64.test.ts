// The wire's uint64 fields hold every value 0..2^64-1 (ts-proto's forceLong=bigint): seeds past 2^53
// up to 2^64-1 reach the searchspace, suggestion and controller services over real gRPC on
// loopback and come back intact, each seed drawing its own answer (the generator takes all 64 bits);
// a WatchSearch resuming after the largest sequence gets nothing, without an error; and what was
// written while the fields were numbers (binary journal entries, JSON with numbers) still reads.
import { credentials, Client as GrpcClient } from '@grpc/grpc-js';
import { controller, events, searchspace, suggestion, common } from '@sm-nas/proto';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import type { RunningServer } from '@sm-nas/service-kit';
import { startSuggestionServer } from '@sm-nas/suggestion';
import { searchSpec } from '@sm-nas/suggestion/testing';
import { createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiSpec, startApiMesh, until, type ApiMesh } from './fixtures/api-mesh.js';

const TOP = 2n ** 64n - 1n;
/** Past JavaScript's exact integers, to the top; 2^53-1 and 2^64-1 share their low 32 bits. */
const SEEDS = [2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, TOP - 1n, TOP];
const STRUCTURAL = common.SearchStage.SEARCH_STAGE_STRUCTURAL;
const MODULAR = common.SearchStage.SEARCH_STAGE_MODULAR;
const quiet = { info: () => {}, error: () => {} };

describe('uint64 seeds through the searchspace and suggestion services', () => {
  let space: RunningServer;
  let suggest: RunningServer;
  let channels: Channel[];
  let spaceClient: Client<typeof searchspace.SearchSpaceServiceDefinition>;
  let suggestClient: Client<typeof suggestion.SuggestionServiceDefinition>;

  beforeAll(async () => {
    space = await startSearchSpaceServer({ host: '127.0.0.1', port: 0, logger: quiet });
    suggest = await startSuggestionServer({ host: '127.0.0.1', port: 0, logger: quiet });
    channels = [createChannel(space.address), createChannel(suggest.address)];
    spaceClient = createClient(searchspace.SearchSpaceServiceDefinition, channels[0]!);
    suggestClient = createClient(suggestion.SuggestionServiceDefinition, channels[1]!);
  });
  afterAll(async () => {
    for (const c of channels ?? []) c.close();
    await Promise.all([space?.shutdown({ graceMs: 500 }), suggest?.shutdown({ graceMs: 500 })]);
  });

  it('Sample: OK for every seed, the same answer per seed, a different one per seed', async () => {
    const draws = new Map<bigint, string>();
    for (const seed of SEEDS) {
      const ids = async () => (await spaceClient.sample({ stage: STRUCTURAL, count: 8, seed })).architectures.map((a) => a.id).join(',');
      const first = await ids();
      expect(await ids()).toBe(first);
      draws.set(seed, first);
    }
    expect(new Set(draws.values()).size).toBe(SEEDS.length);
    // Modular samples of one base as well.
    const base = (await spaceClient.sample({ stage: STRUCTURAL, count: 1, seed: 5 })).architectures[0]!.architecture;
    const modular = await Promise.all([TOP, TOP - 1n, TOP].map(async (seed) => (await spaceClient.sample({ stage: MODULAR, count: 4, seed, base })).architectures.map((a) => a.id).join(',')));
    expect(modular[0]).toBe(modular[2]);
    expect(modular[0]).not.toBe(modular[1]);
  });

  it('Mutate and Crossover: OK for every seed, deterministic per seed, varied across seeds', async () => {
    const [a, b] = (await spaceClient.sample({ stage: STRUCTURAL, count: 2, seed: 11 })).architectures.map((d) => d.architecture!);
    const mutated = new Set<string>();
    const crossed = new Set<string>();
    for (const seed of SEEDS) {
      const m1 = await spaceClient.mutate({ architecture: a, stage: MODULAR, seed });
      const m2 = await spaceClient.mutate({ architecture: a, stage: MODULAR, seed });
      expect(m2.architecture?.id).toBe(m1.architecture?.id);
      mutated.add(m1.architecture!.id);
      const c1 = await spaceClient.crossover({ first: a, second: b, stage: STRUCTURAL, seed });
      const c2 = await spaceClient.crossover({ first: a, second: b, stage: STRUCTURAL, seed });
      expect(c2.child?.id).toBe(c1.child?.id);
      crossed.add(c1.child!.id);
    }
    // A mutation has few outcomes, so some seeds may agree; one answer for all would be a bug.
    expect(mutated.size).toBeGreaterThan(1);
    expect(crossed.size).toBeGreaterThan(1);
  });

  it('decodes the bytes any client sends for seed 2^64-1 (a ten-byte varint)', async () => {
    // SampleRequest{stage: STRUCTURAL, count: 5, seed: 2^64-1} as protoc's encoders write it.
    const request = Buffer.from([0x08, 0x01, 0x10, 0x05, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(Buffer.from(searchspace.SampleRequest.encode({ stage: STRUCTURAL, count: 5, seed: TOP, base: undefined }).finish())).toEqual(request);
    const raw = new GrpcClient(space.address, credentials.createInsecure());
    try {
      const reply = await new Promise<Buffer>((resolve, reject) =>
        raw.makeUnaryRequest('/nas.searchspace.v1.SearchSpaceService/Sample', (b: Buffer) => b, (b: Buffer) => b, request, (err, value) => (err ? reject(err) : resolve(value!))),
      );
      const viaBigint = await spaceClient.sample({ stage: STRUCTURAL, count: 5, seed: TOP });
      expect(searchspace.SampleResponse.decode(reply)).toEqual(viaBigint);
    } finally {
      raw.close();
    }
  });

  it('GetSuggestions: OK with seed 2^64-1, deterministic, not the draw of 2^53-1', async () => {
    const ask = async (seed: bigint) =>
      (await suggestClient.getSuggestions({ spec: searchSpec('random'), stage: STRUCTURAL, history: [], count: 4, stageSeeds: [], seed, searchspaceAddress: space.address }))
        .suggestions.map((s) => JSON.stringify(common.Architecture.toJSON(s.architecture!)))
        .join('\n');
    const top = await ask(TOP);
    expect(await ask(TOP)).toBe(top);
    expect(await ask(2n ** 53n - 1n)).not.toBe(top);
  });
});

describe('uint64 fields through the controller', () => {
  let mesh: ApiMesh;
  beforeAll(async () => {
    // No profiler: the searches propose their first candidates, then wait.
    mesh = await startApiMesh({ profilerWaitMs: 60 * 60_000 });
  }, 60_000);
  afterAll(async () => mesh?.stop());

  const spec = (seed: bigint) =>
    apiSpec({
      seed,
      dataset: { source: { $case: 'builtin', value: { seed, trainImages: 8, valImages: 4, imageSizePx: 64 } } },
      schedule: { init: 0, pretrainedWeightsPath: '', batchSize: 2, learningRate: 1e-3, weightDecay: 0, seed, evalEverySteps: 0, lrSchedule: 0 },
    });
  const seedsOf = (s: controller.SearchSpec | undefined) => ({
    seed: s?.seed,
    dataset: s?.dataset?.source?.$case === 'builtin' ? s.dataset.source.value.seed : undefined,
    schedule: s?.schedule?.seed,
  });
  const firstProposals = async (searchId: string) => {
    await until(async () => (await mesh.client.listCandidates({ searchId })).candidates.length >= 2, 30_000, `${searchId} proposes`);
    return (await mesh.client.listCandidates({ searchId })).candidates.slice(0, 2).map((c) => c.architecture!.id);
  };

  it('CreateSearch with seed 2^64-1 reads back the same from GetSearch and ListSearches, also after a restart', async () => {
    const created = (await mesh.client.createSearch({ searchId: 'top-seed', spec: spec(TOP) })).search!;
    const all = { seed: TOP, dataset: TOP, schedule: TOP };
    expect(seedsOf(created.spec)).toEqual(all);
    expect(seedsOf((await mesh.client.getSearch({ searchId: 'top-seed' })).search?.spec)).toEqual(all);
    const listed = (await mesh.client.listSearches({})).searches.find((s) => s.searchId === 'top-seed');
    expect(seedsOf(listed?.spec)).toEqual(all);
    // The controller proposes with it (its request seeds derive from all 64 bits of it).
    const proposed = await firstProposals('top-seed');
    // The journal keeps all 64 bits: a new controller replays the same spec.
    await mesh.stopController();
    await mesh.startController({ profilerWaitMs: 60 * 60_000 });
    expect(seedsOf((await mesh.client.getSearch({ searchId: 'top-seed' })).search?.spec)).toEqual(all);
    expect((await firstProposals('top-seed'))).toEqual(proposed);
  }, 60_000);

  it('the same search seed proposes the same first candidates; 2^53-1 (same low 32 bits as 2^64-1) others', async () => {
    await mesh.client.createSearch({ searchId: 'top-seed-again', spec: spec(TOP) });
    await mesh.client.createSearch({ searchId: 'low-seed', spec: spec(2n ** 53n - 1n) });
    const [top, again, low] = await Promise.all(['top-seed', 'top-seed-again', 'low-seed'].map(firstProposals));
    expect(again).toEqual(top);
    expect(low).not.toEqual(top);
    for (const searchId of ['top-seed-again', 'low-seed']) await mesh.client.stopSearch({ searchId, force: true });
  }, 60_000);

  it('WatchSearch after sequence 2^64-1 (or 2^53) has no events and ends without an error', async () => {
    await mesh.client.stopSearch({ searchId: 'top-seed', force: true });
    await until(async () => (await mesh.client.getSearch({ searchId: 'top-seed' })).search?.state === controller.SearchState.SEARCH_STATE_STOPPED, 10_000, 'stopped');
    const watch = async (afterSequence: bigint) => {
      const seen: controller.WatchSearchResponse[] = [];
      for await (const e of mesh.client.watchSearch({ searchId: 'top-seed', afterSequence })) seen.push(e);
      return seen;
    };
    const everything = await watch(0n);
    expect(everything.map((e) => e.sequence)).toEqual(everything.map((_, i) => BigInt(i + 1)));
    expect(await watch(everything.at(-1)!.sequence)).toEqual([]);
    expect(await watch(2n ** 53n)).toEqual([]);
    expect(await watch(TOP)).toEqual([]);
  }, 30_000);
});

describe('what was written while the uint64 fields were numbers', () => {
  it('reads binary entries (a varint is a varint) and JSON with numbers; writes JSON strings', () => {
    // SearchSpec{seed: 2^53} as the number-typed encoder wrote it (field 12, varint).
    const old = Uint8Array.from([0x60, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(controller.SearchSpec.decode(old).seed).toBe(2n ** 53n);
    expect(controller.SearchSpec.encode(controller.SearchSpec.fromPartial({ seed: 2n ** 53n })).finish()).toEqual(old);
    // JSON the number-typed toJSON wrote: numbers.
    const entry = events.JournalEntry.fromJSON({ searchId: 's', searchCreated: { seed: 42, dataset: { builtin: { seed: 7 } } } });
    expect(entry.entry?.$case === 'searchCreated' && seedsOfSpec(entry.entry.value)).toEqual([42n, 7n]);
    expect(controller.WatchSearchResponse.fromJSON({ sequence: 3 }).sequence).toBe(3n);
    // protobuf's JSON mapping: 64-bit integers as decimal strings, exact, and back.
    const top = controller.SearchSpec.fromPartial({ seed: TOP });
    const json = JSON.stringify(controller.SearchSpec.toJSON(top));
    expect(json).toBe('{"seed":"18446744073709551615"}');
    expect(controller.SearchSpec.fromJSON(JSON.parse(json)).seed).toBe(TOP);
  });
});

function seedsOfSpec(s: controller.SearchSpec): bigint[] {
  return [s.seed, s.dataset?.source?.$case === 'builtin' ? s.dataset.source.value.seed : -1n];
}
