// The three algorithms over real gRPC on 127.0.0.1, with a real searchspace service: settings
// validation, determinism, de-duplication, Pareto-based parent selection (checked against a front
// worked out by hand), the modular stage's structures, and bad input.
import { common, controller, searchspace, suggestion } from '@sm-nas/proto';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import { ATTR_NAS_SUGGESTION_ALGORITHM, type RunningServer } from '@sm-nas/service-kit';
import { useInMemoryTracing } from '@sm-nas/service-kit/testing';
import { ClientError, Status, createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SuggestionClient, checkSuggestions } from './client.js';
import { structureKeyOfDescribed } from './history.js';
import { ALGORITHMS, startSuggestionServer, type AlgorithmName } from './index.js';
import { evaluatedCandidate, searchSpec } from './testing.js';

const exporter = useInMemoryTracing('suggestion-test');
const quiet = { info: () => {}, error: () => {} };
const { SearchStage } = common;
const STRUCTURAL = SearchStage.SEARCH_STAGE_STRUCTURAL;
const MODULAR = SearchStage.SEARCH_STAGE_MODULAR;

let space: RunningServer;
const servers = {} as Record<AlgorithmName, RunningServer>;
const clients = {} as Record<AlgorithmName, SuggestionClient>;
const raw = {} as Record<AlgorithmName, Client<typeof suggestion.SuggestionServiceDefinition>>;
const channels: Channel[] = [];
let spaceClient: Client<typeof searchspace.SearchSpaceServiceDefinition>;

beforeAll(async () => {
  space = await startSearchSpaceServer({ host: '127.0.0.1', port: 0, logger: quiet });
  const spaceChannel = createChannel(space.address);
  channels.push(spaceChannel);
  spaceClient = createClient(searchspace.SearchSpaceServiceDefinition, spaceChannel);
  for (const algorithm of ALGORITHMS) {
    servers[algorithm] = await startSuggestionServer({ algorithm, host: '127.0.0.1', port: 0, logger: quiet });
    clients[algorithm] = new SuggestionClient(servers[algorithm].address);
    const channel = createChannel(servers[algorithm].address);
    channels.push(channel);
    raw[algorithm] = createClient(suggestion.SuggestionServiceDefinition, channel);
  }
});

afterAll(async () => {
  for (const c of Object.values(clients)) c.close();
  for (const c of channels) c.close();
  await Promise.all([space, ...Object.values(servers)].map((s) => s.shutdown({ graceMs: 1000 })));
});

async function statusOf(call: Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ClientError) return { code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected the call to fail');
}

// AP rises with latency except at the dips; the structural front (max AP, min latency), by hand:
// a point is on it iff its AP beats every faster point's: indices 0, 2, 4, 6, 8, 11.
const APS = [0.3, 0.25, 0.35, 0.2, 0.4, 0.38, 0.45, 0.1, 0.5, 0.44, 0.3, 0.55];
const FRONT = [0, 2, 4, 6, 8, 11].map((i) => `c${i}`);

async function structuralHistory(): Promise<controller.Candidate[]> {
  const { architectures } = await spaceClient.sample({ stage: STRUCTURAL, count: APS.length, seed: 99 });
  return architectures.map((a, i) => evaluatedCandidate(`c${i}`, STRUCTURAL, a, { ap: APS[i]!, latencyMs: 10 + 5 * i }));
}

describe('ValidateSettings', () => {
  it('accepts each algorithm with its defaults and with settings in range', async () => {
    for (const algorithm of ALGORITHMS) await clients[algorithm].validateSettings(searchSpec(algorithm));
    await clients.evolution.validateSettings(searchSpec('evolution', { settings: { mutation_rate: '0.25', crossover_rate: '1' } }));
    await clients.nsga2.validateSettings(searchSpec('nsga2', { settings: { crossover_rate: '0.9' } }));
  });

  it('rejects bad settings with INVALID_ARGUMENT naming the field', async () => {
    const cases: [AlgorithmName, controller.SearchSpec, RegExp][] = [
      ['evolution', searchSpec('evolution', { settings: { mutation_rate: '1.5' } }), /^spec\.algorithm\.settings\.mutation_rate: /],
      ['evolution', searchSpec('evolution', { settings: { mutation_rate: 'often' } }), /^spec\.algorithm\.settings\.mutation_rate: /],
      ['nsga2', searchSpec('nsga2', { settings: { crossover_rate: '-0.1' } }), /^spec\.algorithm\.settings\.crossover_rate: /],
      ['nsga2', searchSpec('nsga2', { settings: { tournament: '3' } }), /^spec\.algorithm\.settings\.tournament: unknown setting for nsga2/],
      ['random', searchSpec('random', { settings: { mutation_rate: '0.5' } }), /^spec\.algorithm\.settings\.mutation_rate: unknown setting for random/],
      ['evolution', searchSpec('evolution', { structural: { populationSize: 1 } }), /^spec\.structural\.population_size: /],
      ['nsga2', searchSpec('nsga2', { modular: { populationSize: 1001 } }), /^spec\.modular\.population_size: expected 2 to 1000/],
      ['evolution', searchSpec('nsga2'), /^spec\.algorithm\.name: this service runs "evolution", not "nsga2"/],
      ['random', searchSpec(''), /^spec\.algorithm\.name: required/],
    ];
    for (const [algorithm, spec, message] of cases) {
      const { code, details } = await statusOf(raw[algorithm].validateSettings({ spec }));
      expect(code).toBe(Status.INVALID_ARGUMENT);
      expect(details).toMatch(message);
    }
    expect((await statusOf(raw.random.validateSettings({}))).details).toMatch(/^spec: required/);
  });

  it('a server without an algorithm runs the one the spec names, and refuses others', async () => {
    const all = await startSuggestionServer({ host: '127.0.0.1', port: 0, logger: quiet });
    const client = new SuggestionClient(all.address);
    try {
      for (const algorithm of ALGORITHMS) {
        await client.validateSettings(searchSpec(algorithm));
        const { accepted } = await client.getSuggestions({ spec: searchSpec(algorithm), stage: 'structural', history: [], count: 2, seed: 1, searchspaceAddress: space.address });
        expect(accepted).toHaveLength(2);
      }
      const refused = await statusOf(client.validateSettings(searchSpec('cmaes')));
      expect(refused.code).toBe(Status.INVALID_ARGUMENT);
      expect(refused.details).toBe('spec.algorithm.name: this service runs "evolution", "nsga2", "random", not "cmaes"');
    } finally {
      client.close();
      await all.shutdown({ graceMs: 1000 });
    }
  });
});

describe('GetSuggestions', () => {
  it('starts from distinct valid samples, the same for the same seed, not for another', async () => {
    for (const algorithm of ALGORITHMS) {
      const query = { spec: searchSpec(algorithm), stage: 'structural' as const, history: [], count: 6, seed: 5, searchspaceAddress: space.address };
      const a = await clients[algorithm].getSuggestions(query);
      const b = await clients[algorithm].getSuggestions(query);
      const c = await clients[algorithm].getSuggestions({ ...query, seed: 6 });
      expect(a.rejected).toEqual([]);
      expect(a.accepted).toHaveLength(6);
      expect(a.accepted.every((s) => s.origin === 'sample')).toBe(true);
      expect(b.accepted.map((s) => s.described.id)).toEqual(a.accepted.map((s) => s.described.id));
      expect(c.accepted.map((s) => s.described.id)).not.toEqual(a.accepted.map((s) => s.described.id));
    }
  });

  it('evolution breeds from the Pareto front only, and never repeats the history', async () => {
    const history = await structuralHistory();
    const spec = searchSpec('evolution', { settings: { crossover_rate: '0.5' } });
    const query = { spec, stage: 'structural' as const, history, count: 10, seed: 3, searchspaceAddress: space.address };
    const { accepted, rejected } = await clients.evolution.getSuggestions(query);
    expect(rejected).toEqual([]); // the client found no duplicate and no invalid architecture
    expect(accepted).toHaveLength(10);
    for (const s of accepted) {
      expect(['mutate', 'crossover', 'crossover+mutate']).toContain(s.origin);
      expect(s.parentIds.length).toBe(s.origin === 'mutate' ? 1 : 2);
      for (const p of s.parentIds) expect(FRONT).toContain(p);
    }
    // Both operators are used at a crossover rate of 0.5: 10 children all one way is unlikely
    // (2 * 0.5^10), and the answer is deterministic for this seed anyway.
    expect(new Set(accepted.map((s) => s.origin.split('+')[0])).size).toBe(2);
  });

  it('nsga2 breeds from its population: with a population of 2 only the two least crowded front ends', async () => {
    // Front ends (infinite crowding) are c0 (fastest) and c11 (most accurate): the population of 2.
    const history = await structuralHistory();
    const spec = searchSpec('nsga2', { structural: { populationSize: 2, maxCandidates: 40 } });
    const { accepted, rejected } = await clients.nsga2.getSuggestions({ spec, stage: 'structural', history, count: 8, seed: 4, searchspaceAddress: space.address });
    expect(rejected).toEqual([]);
    expect(accepted).toHaveLength(8);
    for (const s of accepted) for (const p of s.parentIds) expect(['c0', 'c11']).toContain(p);
  });

  it('does not rank a succeeded candidate whose metrics are absent, but never proposes it again', async () => {
    const history = await structuralHistory();
    // c11 (the most accurate) loses its latency: the front is then c0..c8's, and c11 no parent.
    history[11] = controller.Candidate.fromPartial({ ...history[11], metrics: { accuracy: { ap: 0.55 } } });
    const { accepted, rejected } = await clients.evolution.getSuggestions({
      spec: searchSpec('evolution'), stage: 'structural', history, count: 10, seed: 3, searchspaceAddress: space.address,
    });
    expect(rejected).toEqual([]);
    const parents = new Set(accepted.flatMap((s) => s.parentIds));
    expect(parents.has('c11')).toBe(false);
    for (const p of parents) expect(FRONT).toContain(p);
  });

  it('fills the initial population before evolving', async () => {
    const history = (await structuralHistory()).slice(0, 2);
    const spec = searchSpec('nsga2', { structural: { populationSize: 5, maxCandidates: 40 } });
    const { accepted } = await clients.nsga2.getSuggestions({ spec, stage: 'structural', history, count: 6, seed: 8, searchspaceAddress: space.address });
    // 5 - 2 = 3 more samples complete the population, then 3 children.
    expect(accepted.map((s) => s.origin === 'sample')).toEqual([true, true, true, false, false, false]);
  });

  it('modular stage: refines the seeds\' modules, sharing the children out between the structures', async () => {
    const { architectures: seeds } = await spaceClient.sample({ stage: STRUCTURAL, count: 2, seed: 17 });
    const history = seeds.map((a, i) => evaluatedCandidate(`s${i}`, STRUCTURAL, a, { ap: 0.3 + 0.1 * i, latencyMs: 20, flops: 1e9 * (i + 1) }));
    const keys = seeds.map(structureKeyOfDescribed);
    for (const algorithm of ALGORITHMS) {
      const spec = searchSpec(algorithm, { modular: { populationSize: 2, maxCandidates: 20 } });
      const { accepted, rejected } = await clients[algorithm].getSuggestions({
        spec, stage: 'modular', history, stageSeeds: seeds, count: 6, seed: 2, searchspaceAddress: space.address,
      });
      expect(rejected).toEqual([]); // the client checked each keeps a seed's structure
      expect(accepted).toHaveLength(6);
      const perStructure = keys.map((k) => accepted.filter((s) => structureKeyOfDescribed(s.described) === k).length);
      expect(perStructure.reduce((a, b) => a + b)).toBe(6);
      if (algorithm !== 'nsga2') expect(perStructure).toEqual([3, 3]); // nsga2's population is global
      // Every child names its parents, a sample its seed: the structural model it refines.
      for (const s of accepted) {
        expect(s.parentIds.length, `${algorithm} ${s.origin}`).toBeGreaterThan(0);
        if (s.origin === 'sample') expect(s.parentIds).toEqual([`s${keys.indexOf(structureKeyOfDescribed(s.described))}`]);
      }
    }
  });

  it('tags the server span with the algorithm', async () => {
    exporter.reset();
    await clients.random.getSuggestions({ spec: searchSpec('random'), stage: 'structural', history: [], count: 1, seed: 1, searchspaceAddress: space.address });
    const span = exporter.getFinishedSpans().find((s) => s.name.endsWith('SuggestionService/GetSuggestions') && s.attributes[ATTR_NAS_SUGGESTION_ALGORITHM]);
    expect(span?.attributes[ATTR_NAS_SUGGESTION_ALGORITHM]).toBe('random');
  });

  it('rejects bad requests with INVALID_ARGUMENT naming the field, and an unreachable searchspace with UNAVAILABLE', async () => {
    const ok: suggestion.GetSuggestionsRequest = {
      spec: searchSpec('evolution'), stage: STRUCTURAL, history: [], count: 2, stageSeeds: [], seed: 1n, searchspaceAddress: space.address,
    };
    const history = await structuralHistory();
    const badLatency = controller.Candidate.fromPartial({ ...history[0], metrics: { accuracy: { ap: 0.3 }, latency: { latencyMsP50: -1 } } });
    const badAp = controller.Candidate.fromPartial({ ...history[0], metrics: { accuracy: { ap: 1.5 }, latency: { latencyMsP50: 3 } } });
    const broken = controller.Candidate.fromPartial({ ...history[1], architecture: { architecture: { ...history[1]!.architecture!.architecture, backbone: { kind: 1, baseChannels: 0, blocks: '1-1' } } } });
    const cases: [Partial<suggestion.GetSuggestionsRequest>, RegExp][] = [
      [{ count: 0 }, /^count: /],
      [{ stage: SearchStage.SEARCH_STAGE_UNSPECIFIED }, /^stage: /],
      [{ searchspaceAddress: '' }, /^searchspace_address: required/],
      [{ stage: MODULAR }, /^stage_seeds: /],
      [{ history: [badLatency] }, /^history\[0\]\.metrics\.latency\.latency_ms_p50: /],
      [{ history: [history[0]!, badAp] }, /^history\[1\]\.metrics\.accuracy\.ap: /],
      [{ history: [history[0]!, broken] }, /^history\[1\]\.architecture\.architecture\.backbone\.blocks: /],
      [{ spec: searchSpec('evolution', { settings: { mutation_rate: '2' } }) }, /^spec\.algorithm\.settings\.mutation_rate: /],
    ];
    for (const [change, message] of cases) {
      const { code, details } = await statusOf(raw.evolution.getSuggestions({ ...ok, ...change }));
      expect(code, details).toBe(Status.INVALID_ARGUMENT);
      expect(details).toMatch(message);
    }
    // A port nothing listens on (the searchspace's, once it is closed, is not ours to close: use port 1).
    const down = await statusOf(raw.random.getSuggestions({ ...ok, spec: searchSpec('random'), searchspaceAddress: '127.0.0.1:1' }));
    expect(down.code).toBe(Status.UNAVAILABLE);
    expect(down.details).toMatch(/^searchspace_address: Sample at 127\.0\.0\.1:1 failed/);
  });
});

describe('SuggestionClient checks', () => {
  it('rejects duplicates, invalid architectures, foreign structures and surplus suggestions', async () => {
    const history = await structuralHistory();
    const { architectures: fresh } = await spaceClient.sample({ stage: STRUCTURAL, count: 3, seed: 1234 });
    const novel = fresh.filter((a) => !history.some((c) => c.architecture!.id === a.id));
    const bad = { ...novel[0]!.architecture!, backbone: { kind: 1, baseChannels: 0, blocks: '11' } };
    const query = { spec: searchSpec('random'), stage: 'structural' as const, history, count: 2, seed: 1, searchspaceAddress: '' };
    const batch = checkSuggestions(query, [
      { architecture: history[3]!.architecture!.architecture, parentIds: [], origin: 'sample' },
      { architecture: bad, parentIds: [], origin: 'sample' },
      { architecture: novel[0]!.architecture, parentIds: [], origin: 'sample' },
      { architecture: novel[0]!.architecture, parentIds: [], origin: 'sample' },
      { architecture: novel[1]!.architecture, parentIds: ['c1'], origin: 'mutate' },
      { architecture: novel[2]?.architecture ?? novel[1]!.architecture, parentIds: [], origin: 'sample' },
    ]);
    expect(batch.accepted.map((s) => s.described.id)).toEqual([novel[0]!.id, novel[1]!.id]);
    expect(batch.rejected.map((r) => r.index)).toEqual([0, 1, 3, 5]);
    expect(batch.rejected[0]!.reason).toMatch(/already proposed/);
    expect(batch.rejected[1]!.reason).toMatch(/^suggestions\[1\]\.architecture\.backbone\.blocks: /);
    expect(batch.rejected[3]!.reason).toMatch(/more suggestions than the 2 asked for/);

    const seeds = history.slice(0, 1).map((c) => c.architecture!);
    const other = await spaceClient.mutate({ architecture: history[1]!.architecture!.architecture, stage: MODULAR, seed: 1 });
    const modular = checkSuggestions({ ...query, stage: 'modular', stageSeeds: seeds }, [{ architecture: other.architecture!.architecture, parentIds: [], origin: 'mutate' }]);
    expect(modular.rejected[0]?.reason).toMatch(/structure is none of the stage seeds'/);
  });
});
