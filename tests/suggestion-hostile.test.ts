// A third party's suggestion service that answers badly on purpose (tests/python/hostile_suggestion_server.py,
// generated from proto/ by Debian's protoc): invalid architectures, a missing one, architectures
// outside the stage's space, duplicates of the history and within one answer, more than asked for.
// The search runs to the end on the good suggestions alone, and nothing bad is ever trained: the
// trainer's own count of jobs is the witness.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseCanonical, structureKey, validateArchitecture } from '@sm-nas/arch';
import { architectureFromWire } from '@sm-nas/arch/wire';
import { common, controller } from '@sm-nas/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSearchMesh, SUCCEEDED, tinySpec, type SearchMesh } from './fixtures/search-mesh.js';

const { CandidateState } = controller;
const STRUCTURAL = common.SearchStage.SEARCH_STAGE_STRUCTURAL;
const MODULAR = common.SearchStage.SEARCH_STAGE_MODULAR;
const here = fileURLToPath(new URL('.', import.meta.url));

let mesh: SearchMesh;
let python: ChildProcess | undefined;
let address = '';
const genDir = mkdtempSync(join(tmpdir(), 'sm-nas-py-hostile-'));
/** What the Python service said it suggested: [stage, kind, canonical or "-"]. */
const suggested: [number, string, string][] = [];

beforeAll(async () => {
  mesh = await startSearchMesh();
  execFileSync('bash', [join(here, 'python/gen.sh'), genDir], { stdio: 'pipe' });
  address = await new Promise<string>((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [join(here, 'python/hostile_suggestion_server.py'), genDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    python = child;
    let stderr = '';
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const m = /^SUGGESTED (\d+) (\w+) (\S+)$/.exec(line);
      if (m) suggested.push([Number(m[1]), m[2]!, m[3]!]);
      else stderr += `${line}\n`;
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^PORT (\d+)$/.exec(line);
      if (m) resolve(`127.0.0.1:${m[1]}`);
    });
    child.once('exit', (code) => reject(new Error(`hostile_suggestion_server.py exited with ${code}: ${stderr}`)));
  });
}, 180_000);

afterAll(async () => {
  python?.kill('SIGTERM');
  rmSync(genDir, { recursive: true, force: true });
  await mesh?.stop();
});

describe('a hostile suggestion service', () => {
  it('gets only its valid, new, in-stage suggestions trained, no more than the stage asks for', async () => {
    const spec = tinySpec({
      algorithm: { name: 'py_hostile', suggestionAddress: address, settings: {} },
      structural: { maxCandidates: 1, populationSize: 2, paretoModels: 1 },
      modular: { maxCandidates: 1, populationSize: 2, paretoModels: 0 },
      initialArchitectures: [],
      parallelism: 1,
    });
    await mesh.client.createSearch({ spec, searchId: 'hostile' });
    for await (const _ of mesh.client.watchSearch({ searchId: 'hostile', afterSequence: 0 })) void _;
    const search = (await mesh.client.getSearch({ searchId: 'hostile' })).search!;
    expect(search.failureReason).toBe('');
    expect(search.state).toBe(SUCCEEDED);

    // Every kind of bad answer was given, in both stages.
    for (const stage of [STRUCTURAL, MODULAR]) {
      const kinds = new Set(suggested.filter(([s]) => s === stage).map(([, k]) => k));
      for (const k of ['invalid', 'missing', 'out_of_stage', 'duplicate_of_history', 'duplicate_in_answer']) {
        if (stage === STRUCTURAL && k === 'duplicate_of_history' && !kinds.has(k)) continue; // the first round has no history
        expect(kinds, `stage ${stage}`).toContain(k);
      }
    }
    const { candidates } = await mesh.client.listCandidates({ searchId: 'hostile', stage: 0, pageSize: 0, pageToken: '' });
    // No more than asked for, though every answer held more than `count`.
    expect(candidates.map((c) => c.stage)).toEqual([STRUCTURAL, MODULAR]);
    const bad = new Set(suggested.filter(([, k]) => k === 'invalid' || k === 'out_of_stage').map(([, , canonical]) => canonical));
    const structuralFront = (await mesh.client.getParetoFront({ searchId: 'hostile', stage: STRUCTURAL })).front!;
    const seedStructures = new Set(structuralFront.candidates.map((c) => structureKey(architectureFromWire(c.architecture!.architecture))));
    for (const c of candidates) {
      expect(c.state, c.candidateId).toBe(CandidateState.CANDIDATE_STATE_SUCCEEDED);
      expect(bad.has(c.architecture!.canonical), `${c.candidateId} ${c.architecture!.canonical}`).toBe(false);
      const arch = parseCanonical(c.architecture!.canonical);
      // Valid in its own stage's space: the checks a suggestion passes before it is a candidate.
      validateArchitecture(arch, { space: c.stage === STRUCTURAL ? 'structural' : 'modular' });
      if (c.stage === MODULAR) expect(seedStructures.has(structureKey(arch)), c.architecture!.canonical).toBe(true);
    }
    expect(new Set(candidates.map((c) => c.architecture!.id)).size).toBe(candidates.length);
    // The trainer trained exactly the candidates, each once: nothing else reached it.
    expect([...mesh.trainings.keys()].filter((id) => id.startsWith('hostile.')).sort()).toEqual(candidates.map((c) => `hostile.${c.candidateId}`).sort());
    expect([...mesh.trainings.entries()].filter(([id]) => id.startsWith('hostile.')).every(([, n]) => n === 1)).toBe(true);
  }, 900_000);
});
