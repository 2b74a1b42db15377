// A suggestion service written in Python (tests/python/suggestion_server.py, generated from proto/
// by tests/python/gen.sh with Debian's protoc and python3-grpcio) swapped in for ours: the same
// SuggestionClient the controller uses drives both through a few generations of a small search
// against a real searchspace service, with synthetic metrics (multiply-adds from libs/flops as the
// cost, an AP made up from the architecture id): the Python service's answers pass the client's
// checks, never repeat the history, and its children come from the Pareto front.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { validateArchitecture, type SearchStage } from '@sm-nas/arch';
import { architectureFromWire } from '@sm-nas/arch/wire';
import { countFlops } from '@sm-nas/flops';
import { paretoFront } from '@sm-nas/pareto';
import type { controller } from '@sm-nas/proto';
import { common } from '@sm-nas/proto';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import type { RunningServer } from '@sm-nas/service-kit';
import { startSuggestionServer } from '@sm-nas/suggestion';
import { SuggestionClient } from '@sm-nas/suggestion/client';
import { evaluatedCandidate, searchSpec } from '@sm-nas/suggestion/testing';
import { ClientError, Status } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));
const quiet = { info: () => {}, error: () => {} };
const genDir = mkdtempSync(join(tmpdir(), 'sm-nas-py-suggestion-'));
let python: ChildProcess | undefined;
let pythonAddress = '';
let space: RunningServer;
let ours: RunningServer;

/** Starts the Python service and resolves with its address once it has printed its port. */
function startPython(): Promise<string> {
  const child = spawn('/usr/bin/python3', [join(here, 'python/suggestion_server.py'), genDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  python = child;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /^PORT (\d+)$/.exec(line);
      if (m) resolve(`127.0.0.1:${m[1]}`);
    });
    child.once('exit', (code) => reject(new Error(`suggestion_server.py exited with ${code}: ${stderr}`)));
  });
}

beforeAll(async () => {
  execFileSync('bash', [join(here, 'python/gen.sh'), genDir], { stdio: 'pipe' });
  space = await startSearchSpaceServer({ host: '127.0.0.1', port: 0, logger: quiet });
  ours = await startSuggestionServer({ algorithm: 'evolution', host: '127.0.0.1', port: 0, logger: quiet });
  pythonAddress = await startPython();
});

afterAll(async () => {
  python?.kill('SIGTERM');
  await Promise.all([space?.shutdown({ graceMs: 1000 }), ours?.shutdown({ graceMs: 1000 })]);
  rmSync(genDir, { recursive: true, force: true });
});

/** Synthetic evaluation: cost = multiply-adds (libs/flops), AP = a number in [0.1, 0.6) from the id. */
function evaluate(id: string, described: common.DescribedArchitecture, stage: SearchStage): controller.Candidate {
  const flops = countFlops(validateArchitecture(architectureFromWire(described.architecture))).multiplyAdds;
  const ap = 0.1 + (parseInt(described.id.slice(1, 9), 16) / 2 ** 32) * 0.5;
  const wireStage = stage === 'structural' ? common.SearchStage.SEARCH_STAGE_STRUCTURAL : common.SearchStage.SEARCH_STAGE_MODULAR;
  return evaluatedCandidate(id, wireStage, described, { ap, latencyMs: flops / 1e9, flops });
}

/** What the controller will do, in small: ask, check, evaluate, append to the history; per stage. */
async function search(client: SuggestionClient, algorithm: string, settings: Record<string, string>) {
  const spec = searchSpec(algorithm, { settings, structural: { populationSize: 4 } });
  await client.validateSettings(spec);
  const history: controller.Candidate[] = [];
  const generations: { origin: string; parentIds: string[]; frontIds: string[] }[][] = [];
  for (const stage of ['structural', 'modular'] as const) {
    const seeds =
      stage === 'modular'
        ? paretoFront(history.map((c) => [-c.metrics!.accuracy!.ap, c.metrics!.latency!.latencyMsP50])).map((i) => history[i]!.architecture!)
        : [];
    for (let g = 0; g < 3; g++) {
      const inStage = history.filter((c) => c.stage === (stage === 'structural' ? 1 : 2) || seeds.some((s) => s.id === c.architecture!.id));
      const cost = (c: controller.Candidate) => (stage === 'structural' ? c.metrics!.latency!.latencyMsP50 : Number(c.metrics!.flopsMultiplyAdds));
      const frontIds = paretoFront(inStage.map((c) => [-c.metrics!.accuracy!.ap, cost(c)])).map((i) => inStage[i]!.candidateId);
      const { accepted, rejected } = await client.getSuggestions({
        spec, stage, history, count: 4, stageSeeds: seeds, seed: 100 + g, searchspaceAddress: space.address,
      });
      expect(rejected).toEqual([]);
      expect(accepted).toHaveLength(4);
      generations.push(accepted.map((s) => ({ origin: s.origin, parentIds: s.parentIds, frontIds })));
      for (const s of accepted) history.push(evaluate(`${stage}-${history.length}`, s.described, stage));
    }
  }
  const ids = history.map((c) => c.architecture!.id);
  expect(new Set(ids).size).toBe(ids.length);
  return generations;
}

describe('a suggestion service written in Python, through the SuggestionClient', () => {
  it('runs a two-stage search of three generations each, like our own service does', async () => {
    const client = new SuggestionClient(pythonAddress);
    const reference = new SuggestionClient(ours.address);
    try {
      const py = await search(client, 'py_front_mutation', { initial_samples: '4' });
      // First generation of each stage: samples; then children of the front of their time.
      expect(py[0]!.every((s) => s.origin === 'sample')).toBe(true);
      for (const generation of [py[1]!, py[2]!, py[4]!, py[5]!]) {
        for (const s of generation) {
          expect(s.origin).toBe('mutate');
          expect(s.frontIds).toContain(s.parentIds[0]);
        }
      }
      // Our evolution service through the very same code path.
      const ts = await search(reference, 'evolution', {});
      expect(ts.flat().length).toBe(py.flat().length);
    } finally {
      client.close();
      reference.close();
    }
  });

  it('refuses bad settings with INVALID_ARGUMENT naming the field', async () => {
    const client = new SuggestionClient(pythonAddress);
    try {
      const error = await client.validateSettings(searchSpec('py_front_mutation', { settings: { initial_samples: 'many' } })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).code).toBe(Status.INVALID_ARGUMENT);
      expect((error as ClientError).details).toMatch(/^spec\.algorithm\.settings\.initial_samples: /);
    } finally {
      client.close();
    }
  });
});
