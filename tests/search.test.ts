// A two-stage search end to end over the real pipeline: CreateSearch over gRPC, candidates proposed
// by a suggestion service, FLOPs counted, latency requested per hardware class over NATS, training
// jobs on the JetStream work queue consumed by a trainer, results back through the journal; then a
// new controller replays the journal into the same state.
import { architectureFromWire } from '@sm-nas/arch/wire';
import { connectBus, trainJobCancel, trainJobProgress } from '@sm-nas/bus';
import { common, controller, trainer } from '@sm-nas/proto';
import { readSafetensors } from '@sm-nas/trainer/safetensors';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ClientError, Status } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quiet, startSearchMesh, SUCCEEDED, tinySpec, type SearchMesh } from './fixtures/search-mesh.js';

const { CandidateState } = controller;
const { SEARCH_STAGE_STRUCTURAL: STRUCTURAL, SEARCH_STAGE_MODULAR: MODULAR } = common.SearchStage;

let mesh: SearchMesh;
beforeAll(async () => {
  mesh = await startSearchMesh();
}, 120_000);
afterAll(async () => {
  await mesh?.stop();
});

async function watchToEnd(searchId: string): Promise<controller.WatchSearchResponse[]> {
  const seen: controller.WatchSearchResponse[] = [];
  for await (const event of mesh.client.watchSearch({ searchId, afterSequence: 0 })) seen.push(event);
  return seen;
}

/** The structure (everything but the modular genes) of an architecture, to match modular candidates to their seeds. */
function structureOf(a: common.Architecture | undefined): string {
  const d = architectureFromWire(a);
  return `${d.backbone.kind}/${d.neck.kind}${d.neck.kind === 'fpn' ? `:${d.neck.startLevel}-${d.neck.endLevel}` : ''}/${d.rpn}/${d.head.kind}.${d.head.stages}/${d.input.widthPx}x${d.input.heightPx}`;
}

describe('a two-stage search over NATS', () => {
  it('rejects a bad spec with INVALID_ARGUMENT naming the field', async () => {
    const bad = tinySpec({ fidelity: { inputScale: 0.125, widthMultiplier: 0.125, maxSteps: 0, maxSeconds: 0 } });
    const err = await mesh.client.createSearch({ spec: bad, searchId: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).code).toBe(Status.INVALID_ARGUMENT);
    expect((err as ClientError).details).toMatch(/^spec\.fidelity\.max_steps/);
    const noSpace = await mesh.client.createSearch({ spec: tinySpec({ hardwareClass: '' }), searchId: '' }).catch((e: unknown) => e);
    expect((noSpace as ClientError).details).toMatch(/^spec\.hardware_class/);
    const badId = await mesh.client.createSearch({ spec: tinySpec(), searchId: 'Not An Id' }).catch((e: unknown) => e);
    expect((badId as ClientError).details).toMatch(/^search_id/);
  });

  it('runs both stages, evaluates each architecture once, and a new controller replays the same state', async () => {
    const { search } = await mesh.client.createSearch({ spec: tinySpec(), searchId: 'two-stage' });
    expect(search?.searchId).toBe('two-stage');
    const events = await watchToEnd('two-stage');
    const final = (await mesh.client.getSearch({ searchId: 'two-stage' })).search!;
    expect(final.failureReason).toBe('');
    expect(final.state).toBe(SUCCEEDED);

    const { candidates } = await mesh.client.listCandidates({ searchId: 'two-stage', stage: 0, pageSize: 0, pageToken: '' });
    const structural = candidates.filter((c) => c.stage === STRUCTURAL);
    const modular = candidates.filter((c) => c.stage === MODULAR);
    expect(structural).toHaveLength(3);
    expect(modular).toHaveLength(2);
    for (const c of candidates) {
      expect(c.failureReason).toBe('');
      expect(c.state).toBe(CandidateState.CANDIDATE_STATE_SUCCEEDED);
      expect(c.metrics?.accuracy).toBeDefined();
      expect(c.metrics?.flopsMultiplyAdds).toBeGreaterThan(0);
      expect(c.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(c.checkpointUri).toMatch(/^file:\/\//);
    }
    // Latency is the structural objective; the modular stage's is FLOPs.
    for (const c of structural) expect(c.metrics?.latency?.latencyMsP50).toBeGreaterThan(0);
    // The baseline goes first; every architecture once; all inside the constraints.
    expect(structural[0]!.origin).toBe('initial');
    expect(new Set(candidates.map((c) => c.architecture?.id)).size).toBe(candidates.length);
    for (const c of candidates) expect(c.architecture?.architecture?.head?.kind).toBe(common.HeadKind.HEAD_KIND_RETINANET);
    // The modular stage refines the structural Pareto models.
    const structuralFront = (await mesh.client.getParetoFront({ searchId: 'two-stage', stage: STRUCTURAL })).front!;
    const seedStructures = new Set(structuralFront.candidates.map((c) => structureOf(c.architecture?.architecture)));
    for (const c of modular) expect(seedStructures.has(structureOf(c.architecture?.architecture))).toBe(true);
    // ...and names its parents: a structural Pareto model, or a modular child of one.
    const known = new Set(candidates.map((c) => c.candidateId));
    for (const c of modular) {
      expect(c.parentIds.length, `${c.candidateId} (${c.origin})`).toBeGreaterThan(0);
      for (const p of c.parentIds) expect(known.has(p), `${c.candidateId}'s parent ${p}`).toBe(true);
    }
    // Each training job trained exactly once.
    expect([...mesh.trainings.values()].every((n) => n === 1)).toBe(true);
    expect(mesh.trainings.size).toBe(5);

    // The watch saw the whole story in journal order, ending with the final state.
    const sequences = events.map((e) => e.sequence);
    expect(sequences).toEqual(sequences.map((_, i) => BigInt(i + 1)));
    const last = events.at(-1)!;
    expect(last.event?.$case === 'searchUpdated' && last.event.value.state).toBe(SUCCEEDED);
    expect(events.some((e) => e.event?.$case === 'paretoFrontUpdated')).toBe(true);
    // Every candidate was watched going through EVALUATING (measured, handed to training).
    const evaluating = new Set(events.flatMap((e) => (e.event?.$case === 'candidateUpdated' && e.event.value.state === CandidateState.CANDIDATE_STATE_EVALUATING ? [e.event.value.candidateId] : [])));
    expect([...evaluating].sort()).toEqual(candidates.map((c) => c.candidateId).sort());
    // A finished search cannot be stopped or resumed: the call says so rather than doing nothing.
    for (const call of [mesh.client.stopSearch({ searchId: 'two-stage', force: false }), mesh.client.resumeSearch({ searchId: 'two-stage', budget: undefined })]) {
      const error = await call.then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).code).toBe(Status.FAILED_PRECONDITION);
    }

    // The controller wrote the search's results folder when it ended: every candidate, every field
    // written (an AP of 0 too), the final front as the API gives it.
    const folder = join(mesh.resultsDir, 'two-stage');
    for (let i = 0; i < 100 && !existsSync(join(folder, 'report.html')); i++) await new Promise((r) => setTimeout(r, 100));
    const lines = readFileSync(join(folder, 'candidates.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { candidateId: string; metrics: { accuracy: Record<string, unknown> } });
    expect(lines.map((l) => l.candidateId)).toEqual(candidates.map((c) => c.candidateId));
    for (const l of lines) for (const k of ['ap', 'ap50', 'ap75', 'apSmall', 'arMaxDets100']) expect(typeof l.metrics.accuracy[k], `${l.candidateId} ${k}`).toBe('number');
    const pareto = JSON.parse(readFileSync(join(folder, 'pareto.json'), 'utf8')) as { final: { candidates: { candidateId: string }[] } };
    const finalFront = (await mesh.client.getParetoFront({ searchId: 'two-stage', stage: 0 })).front!;
    expect(pareto.final.candidates.map((c) => c.candidateId)).toEqual(finalFront.candidates.map((c) => c.candidateId));

    // A restarted controller holds exactly the same state.
    const front = (await mesh.client.getParetoFront({ searchId: 'two-stage', stage: 0 })).front!;
    await mesh.stopController();
    await mesh.startController();
    const replayed = await mesh.client.listCandidates({ searchId: 'two-stage', stage: 0, pageSize: 0, pageToken: '' });
    expect(replayed.candidates).toEqual(candidates);
    expect((await mesh.client.getParetoFront({ searchId: 'two-stage', stage: 0 })).front).toEqual(front);
    expect((await mesh.client.getSearch({ searchId: 'two-stage' })).search).toEqual(final);
  }, 900_000);

  it('retrains the final front as jobs of their own at full width; the winners carry those weights', async () => {
    const spec = tinySpec({
      structural: { maxCandidates: 2, populationSize: 2, paretoModels: 0 },
      modular: { maxCandidates: 0, populationSize: 0, paretoModels: 0 },
      finalTraining: { enabled: true, fidelity: { inputScale: 0.125, widthMultiplier: 0, maxSteps: 1, maxSeconds: 0 }, schedule: undefined },
    });
    const before = new Map(mesh.trainings);
    await mesh.client.createSearch({ spec, searchId: 'final-training' });
    await watchToEnd('final-training');
    const search = (await mesh.client.getSearch({ searchId: 'final-training' })).search!;
    expect(search.failureReason).toBe('');
    expect(search.state).toBe(SUCCEEDED);
    const { candidates } = await mesh.client.listCandidates({ searchId: 'final-training', stage: 0, pageSize: 0, pageToken: '' });
    const front = (await mesh.client.getParetoFront({ searchId: 'final-training', stage: 0 })).front!;
    const onFront = new Set(front.candidates.map((c) => c.candidateId));
    expect(onFront.size).toBeGreaterThan(0);
    for (const c of candidates) {
      if (!onFront.has(c.candidateId)) {
        expect(c.finalTraining, c.candidateId).toBeUndefined();
        continue;
      }
      const ft = c.finalTraining!;
      expect(ft.failureReason).toBe('');
      expect(ft.status).toBe(trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED);
      // width_multiplier 0 means full width; the search's own fidelity is an eighth.
      expect(ft.fidelity?.widthMultiplier).toBe(1);
      expect(c.metrics?.fidelity?.widthMultiplier).toBe(0.125);
      expect(ft.checkpointUri).toMatch(/^file:\/\//);
      expect(ft.checkpointUri).not.toBe(c.checkpointUri);
      expect(ft.traceId).toBe(c.traceId);
    }
    // Every job trained once: one evaluation per candidate, one retraining per front member.
    const jobs = [...mesh.trainings.keys()].filter((k) => !before.has(k));
    expect(jobs.sort()).toEqual([...candidates.map((c) => `final-training.${c.candidateId}`), ...[...onFront].map((id) => `final-training.${id}.final`)].sort());
    for (const k of jobs) expect(mesh.trainings.get(k), k).toBe(1);
    // The winners are the retrained weights: full width (ResNet-18's stem has 64 filters; the
    // proxy's, at an eighth, 8).
    const folder = join(mesh.resultsDir, 'final-training');
    const last = join(folder, 'winners', `${front.candidates.at(-1)!.architecture!.id}.safetensors`);
    for (let i = 0; i < 200 && !existsSync(last); i++) await new Promise((r) => setTimeout(r, 100));
    for (const c of front.candidates) {
      const winner = JSON.parse(readFileSync(join(folder, 'winners', `${c.architecture!.id}.json`), 'utf8')) as { weightsFrom: string; weightsFidelity: { widthMultiplier: number } };
      expect(winner.weightsFrom).toBe('final_training');
      expect(winner.weightsFidelity.widthMultiplier).toBe(1);
      const { tensors } = await readSafetensors(join(folder, 'winners', `${c.architecture!.id}.safetensors`));
      const stem = [...tensors.entries()].find(([name]) => name.endsWith('conv1.weight'))!;
      expect(stem[1].shape[0], stem[0]).toBe(64);
    }
    expect(readFileSync(join(folder, 'report.html'), 'utf8')).toMatch(/retrained at input scale 0\.125, width 1/);
  }, 900_000);

  it('stops a training early on request: the trainer ends the job, the candidate is EARLY_STOPPED, not retrained', async () => {
    const bus = await connectBus({ servers: mesh.nats.url, name: 'early-stop-test', logger: quiet });
    const cancelled: string[] = [];
    // Acts as the median rule would: cancel the first job that reports a validation AP.
    const sub = bus.subscribe(trainJobProgress, async (event) => {
      if (cancelled.length > 0 || !event.progress?.validation) return;
      cancelled.push(event.jobId);
      await bus.publish(trainJobCancel, { jobId: event.jobId, reason: 'test' });
    });
    try {
      const spec = tinySpec({
        schedule: { init: 0, pretrainedWeightsPath: '', batchSize: 2, learningRate: 1e-3, weightDecay: 0, seed: 1n, evalEverySteps: 1, lrSchedule: 0 },
        fidelity: { inputScale: 0.125, widthMultiplier: 0.125, maxSteps: 4, maxSeconds: 0 },
        structural: { maxCandidates: 2, populationSize: 2, paretoModels: 1 },
        modular: { maxCandidates: 0, populationSize: 0, paretoModels: 0 },
        parallelism: 1,
      });
      await mesh.client.createSearch({ spec, searchId: 'early' });
      for await (const _ of mesh.client.watchSearch({ searchId: 'early', afterSequence: 0 })) void _;
      const { candidates } = await mesh.client.listCandidates({ searchId: 'early', stage: 0, pageSize: 0, pageToken: '' });
      expect(cancelled).toHaveLength(1);
      const stopped = candidates.find((c) => `early.${c.candidateId}` === cancelled[0])!;
      expect(stopped.state).toBe(CandidateState.CANDIDATE_STATE_EARLY_STOPPED);
      expect(stopped.failureReason).toMatch(/^stopped early: test/);
      expect(stopped.metrics?.validationCurve.length).toBeGreaterThan(0);
      expect(mesh.trainings.get(cancelled[0]!)).toBe(1);
      const other = candidates.find((c) => c !== stopped)!;
      expect(other.state).toBe(CandidateState.CANDIDATE_STATE_SUCCEEDED);
      // Its curve: validation at every step but the last (evaluated at the end as the result).
      expect(other.metrics?.validationCurve.map((p) => p.step)).toEqual([1, 2, 3]);
      expect((await mesh.client.getSearch({ searchId: 'early' })).search?.state).toBe(SUCCEEDED);
    } finally {
      await sub.drain();
      await bus.close();
    }
  }, 900_000);

  it('runs with a suggestion service written in Python (generated from proto/), named by address', async () => {
    // tests/python/suggestion_server.py, the suggestion helper's, from Debian's protoc and python3-grpcio.
    const here = fileURLToPath(new URL('.', import.meta.url));
    const genDir = mkdtempSync(join(tmpdir(), 'sm-nas-py-search-'));
    let python: ChildProcess | undefined;
    try {
      execFileSync('bash', [join(here, 'python/gen.sh'), genDir], { stdio: 'pipe' });
      const address = await new Promise<string>((resolve, reject) => {
        const child = spawn('/usr/bin/python3', [join(here, 'python/suggestion_server.py'), genDir], { stdio: ['ignore', 'pipe', 'pipe'] });
        python = child;
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const m = /^PORT (\d+)$/.exec(line);
          if (m) resolve(`127.0.0.1:${m[1]}`);
        });
        child.once('exit', (code) => reject(new Error(`suggestion_server.py exited with ${code}: ${stderr}`)));
      });
      const spec = tinySpec({
        algorithm: { name: 'py_front_mutation', suggestionAddress: address, settings: { initial_samples: '2' } },
        structural: { maxCandidates: 2, populationSize: 2, paretoModels: 1 },
        modular: { maxCandidates: 1, populationSize: 1, paretoModels: 0 },
        initialArchitectures: [],
      });
      await mesh.client.createSearch({ spec, searchId: 'python' });
      for await (const _ of mesh.client.watchSearch({ searchId: 'python', afterSequence: 0 })) void _;
      const search = (await mesh.client.getSearch({ searchId: 'python' })).search!;
      expect(search.failureReason).toBe('');
      expect(search.state).toBe(SUCCEEDED);
      const { candidates } = await mesh.client.listCandidates({ searchId: 'python', stage: 0, pageSize: 0, pageToken: '' });
      expect(candidates.map((c) => c.stage)).toEqual([STRUCTURAL, STRUCTURAL, MODULAR]);
      for (const c of candidates) expect(c.state).toBe(CandidateState.CANDIDATE_STATE_SUCCEEDED);
      // All came from the Python service (its origins, repaired into the spec's constraints or not).
      for (const c of candidates) expect(c.origin).toMatch(/^(sample|mutate)(\+repaired)?$/);
    } finally {
      python?.kill('SIGTERM');
      rmSync(genDir, { recursive: true, force: true });
    }
  }, 900_000);
});
