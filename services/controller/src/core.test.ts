// The controller's decisions (core.ts) on search states built the only way a controller builds
// them: by applying journal entries (state.ts). No NATS, no gRPC: the suggestion service's answers
// are written out here. Expected values are worked out by hand from the rules quoted beside them.
import { parseCanonical } from '@sm-nas/arch';
import { architectureToWire, describedToWire } from '@sm-nas/arch/wire';
import { common, controller, events, trainer, type suggestion } from '@sm-nas/proto';
import { describe, expect, it } from 'vitest';
import {
  acceptSuggestions,
  addInitialArchitectures,
  earlyStopDecision,
  finalTrainJobId,
  finalTrainRequest,
  MAX_FRUITLESS_ROUNDS,
  mixSeed,
  modularSeeds,
  nextAction,
  nextCandidateId,
  planSuggestionRound,
  ProposalSet,
} from './core.js';
import { applyJournalEntry, applyTrainResult, type SearchRecord } from './state.js';

const { SEARCH_STAGE_STRUCTURAL: STRUCTURAL, SEARCH_STAGE_MODULAR: MODULAR } = common.SearchStage;
const { SearchState, CandidateState } = controller;

const T0 = Date.parse('2026-11-30T00:00:00Z');

// Valid in the structural space (the README's examples and the demo's seeds).
const R18_RETINA = 'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512';
const R18_FASTER = 'resnet18:64:11-21-21-21/fpn:2-6:256/rpn/faster_rcnn:256/512x512';
const R34_RETINA = 'resnet34:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/512x512';
const R50_RETINA = 'resnet50:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/512x512';

const wire = (canonical: string) => architectureToWire(parseCanonical(canonical));
const described = (canonical: string) => describedToWire(parseCanonical(canonical));

function spec(overrides: Partial<controller.SearchSpec> = {}): controller.SearchSpec {
  return controller.SearchSpec.fromPartial({
    hardwareClass: 'cpu.test',
    algorithm: { name: 'random' },
    structural: { maxCandidates: 6, populationSize: 4, paretoModels: 0 },
    modular: { maxCandidates: 4, populationSize: 4 },
    parallelism: 2,
    seed: 7n,
    ...overrides,
  });
}

/** A search built from journal entries, one second apart, as the journal would deliver them. */
class Search {
  readonly searches = new Map<string, SearchRecord>();
  readonly entries: events.JournalEntry[] = [];
  private sequence = 0;

  constructor(s: controller.SearchSpec) {
    this.apply({ $case: 'searchCreated', value: s });
  }

  get record(): SearchRecord {
    return this.searches.get('s1')!;
  }

  apply(entry: events.JournalEntry['entry'], reason = ''): this {
    const e = events.JournalEntry.fromPartial({ searchId: 's1', reason });
    e.entry = entry;
    this.entries.push(e);
    this.sequence++;
    applyJournalEntry(this.searches, e, this.sequence, new Date(T0 + this.sequence * 1000));
    return this;
  }

  propose(canonical: string, stage = STRUCTURAL): string {
    const candidateId = nextCandidateId(this.record);
    this.apply({
      $case: 'candidateProposed',
      value: controller.Candidate.fromPartial({ candidateId, searchId: 's1', stage, architecture: described(canonical), state: CandidateState.CANDIDATE_STATE_PROPOSED, origin: 'sample' }),
    });
    return candidateId;
  }

  evaluate(candidateId: string, ap: number, cost: number, state = CandidateState.CANDIDATE_STATE_SUCCEEDED, curve: [number, number][] = []): this {
    const c = this.record.candidates.get(candidateId)!;
    const metrics = controller.CandidateMetrics.fromPartial({
      accuracy: { ap },
      latency: { latencyMsP50: cost },
      flopsMultiplyAdds: BigInt(cost * 1e6),
      validationCurve: curve.map(([step, a]) => ({ step, ap: a })),
    });
    return this.apply({ $case: 'candidateEvaluated', value: { ...c, state, metrics } });
  }

  round(stage = STRUCTURAL): this {
    return this.apply({ $case: 'suggestionRoundStarted', value: { round: this.record.suggestionRounds, stage } });
  }
}

const view = (inflight: number, nowMs = T0 + 60_000) => ({ inflight, nowMs });

describe('the next action', () => {
  it('starts the structural stage first, or the modular one when the structural stage has no candidates', () => {
    expect(nextAction(new Search(spec()).record, view(0))).toEqual({ kind: 'startStage', stage: STRUCTURAL });
    const modularOnly = spec({ structural: { maxCandidates: 0, populationSize: 0, paretoModels: 0 } });
    expect(nextAction(new Search(modularOnly).record, view(0))).toEqual({ kind: 'startStage', stage: MODULAR });
  });

  it('proposes min(parallelism - in flight, stage room, budget room)', () => {
    const s = new Search(spec({ parallelism: 3, budget: { maxCandidates: 5, maxWallSeconds: 0 } })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'propose', stage: STRUCTURAL, want: 3 });
    expect(nextAction(s.record, view(2))).toEqual({ kind: 'propose', stage: STRUCTURAL, want: 1 });
    // parallelism full: wait
    expect(nextAction(s.record, view(3))).toEqual({ kind: 'wait' });
    for (const a of [R18_RETINA, R18_FASTER, R34_RETINA]) s.propose(a);
    // budget: 5 - 3 = 2 left; stage: 6 - 3 = 3 left
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'propose', stage: STRUCTURAL, want: 2 });
    // parallelism 0 counts as 1
    const one = new Search(spec({ parallelism: 0 })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    expect(nextAction(one.record, view(0))).toEqual({ kind: 'propose', stage: STRUCTURAL, want: 1 });
  });

  it(`closes a stage after ${MAX_FRUITLESS_ROUNDS} fruitless suggestion rounds in a row, and reopens it on a proposal`, () => {
    const s = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL });
    const c1 = s.propose(R18_RETINA);
    s.evaluate(c1, 0.3, 10);
    for (let i = 0; i < MAX_FRUITLESS_ROUNDS - 1; i++) s.round();
    expect(s.record.fruitlessRounds).toBe(MAX_FRUITLESS_ROUNDS - 1);
    expect(nextAction(s.record, view(0)).kind).toBe('propose');
    s.round();
    // closed, one still in flight: wait for it
    expect(nextAction(s.record, view(1))).toEqual({ kind: 'wait' });
    // closed, nothing in flight: the structural front seeds the modular stage
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'startStage', stage: MODULAR });
    s.apply({ $case: 'stageStarted', value: MODULAR });
    expect(s.record.fruitlessRounds).toBe(0);
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'propose', stage: MODULAR, want: 2 });
  });

  it('fails the search when the structural stage ends with nothing to seed the modular one', () => {
    const s = new Search(spec({ structural: { maxCandidates: 1, populationSize: 1, paretoModels: 0 } })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    s.evaluate(s.propose(R18_RETINA), 0, 0, CandidateState.CANDIDATE_STATE_FAILED);
    expect(nextAction(s.record, view(0))).toEqual({
      kind: 'endSearch',
      state: SearchState.SEARCH_STATE_FAILED,
      reason: 'no structural candidate was evaluated successfully: nothing to seed the modular stage',
    });
  });

  it('ends the search when the last stage is full: SUCCEEDED with a success, FAILED without', () => {
    const noModular = spec({ structural: { maxCandidates: 2, populationSize: 2, paretoModels: 0 }, modular: undefined });
    const s = new Search(noModular).apply({ $case: 'stageStarted', value: STRUCTURAL });
    const [a, b] = [s.propose(R18_RETINA), s.propose(R34_RETINA)];
    expect(nextAction(s.record, view(2))).toEqual({ kind: 'wait' });
    s.evaluate(a, 0.2, 10).evaluate(b, 0, 0, CandidateState.CANDIDATE_STATE_FAILED);
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'endSearch', state: SearchState.SEARCH_STATE_SUCCEEDED, reason: '' });
    const f = new Search(noModular).apply({ $case: 'stageStarted', value: STRUCTURAL });
    f.evaluate(f.propose(R18_RETINA), 0, 0, CandidateState.CANDIDATE_STATE_FAILED).evaluate(f.propose(R34_RETINA), 0, 0, CandidateState.CANDIDATE_STATE_EARLY_STOPPED);
    expect(nextAction(f.record, view(0))).toEqual({ kind: 'endSearch', state: SearchState.SEARCH_STATE_FAILED, reason: 'no candidate was evaluated successfully' });
  });

  it('ends the search at its candidate budget, skipping the modular stage', () => {
    const s = new Search(spec({ budget: { maxCandidates: 2, maxWallSeconds: 0 } })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    s.evaluate(s.propose(R18_RETINA), 0.2, 10).evaluate(s.propose(R34_RETINA), 0.3, 20);
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'endSearch', state: SearchState.SEARCH_STATE_SUCCEEDED, reason: '' });
    // ResumeSearch with a larger budget opens it again
    s.apply({ $case: 'budgetChanged', value: { maxCandidates: 3, maxWallSeconds: 0 } });
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'propose', stage: STRUCTURAL, want: 1 });
  });

  it('ends the search at its wall budget: no candidate starts that would end past it', () => {
    // Created at T0 + 1 s; the one finished candidate took 1 s (proposed at +3 s, evaluated at +4 s).
    const s = new Search(spec({ budget: { maxCandidates: 0, maxWallSeconds: 100 }, modular: undefined })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    s.evaluate(s.propose(R18_RETINA), 0.2, 10);
    expect(nextAction(s.record, view(0, T0 + 1000 + 98_999)).kind).toBe('propose');
    expect(nextAction(s.record, view(0, T0 + 1000 + 99_000))).toEqual({ kind: 'endSearch', state: SearchState.SEARCH_STATE_SUCCEEDED, reason: '' });
  });

  it('drains a stopping search and stops it once nothing is in flight; an ended search ends the loop', () => {
    const s = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL }).apply({ $case: 'searchStateChanged', value: SearchState.SEARCH_STATE_STOPPING });
    expect(nextAction(s.record, view(1))).toEqual({ kind: 'stopping', stopNow: false });
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'stopping', stopNow: true });
    s.apply({ $case: 'searchStateChanged', value: SearchState.SEARCH_STATE_STOPPED }, 'stopped by StopSearch');
    expect(nextAction(s.record, view(0))).toEqual({ kind: 'ended' });
  });
});

describe('proposals', () => {
  it('drops architectures already in the search or already taken, and stops at want', () => {
    const s = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL });
    s.propose(R18_RETINA);
    const set = new ProposalSet(s.record, 2);
    const p = (c: string) => ({ arch: described(c), parents: [], origin: 'sample', suggested: true });
    expect(set.add(p(R18_RETINA))).toBe(false); // in the history
    expect(set.add(p(R18_FASTER))).toBe(true);
    expect(set.add(p(R18_FASTER))).toBe(false); // taken in this round
    expect(set.add(p(R34_RETINA))).toBe(true);
    expect(set.full).toBe(true);
    expect(set.add(p(R50_RETINA))).toBe(false); // beyond want
    expect(set.proposals.map((x) => x.arch.canonical)).toEqual([R18_FASTER, R34_RETINA]);
  });

  it('repairs initial architectures into the constraints and drops the invalid ones with their reason', () => {
    const constraints = controller.SpaceConstraints.fromPartial({ heads: [common.HeadKind.HEAD_KIND_RETINANET] });
    const invalid = { ...wire(R18_RETINA), backbone: { kind: common.BackboneKind.BACKBONE_KIND_RESNET18, baseChannels: 64, blocks: '1-1' } };
    const s = new Search(spec({ constraints, initialArchitectures: [wire(R18_FASTER), wire(R34_RETINA), invalid] })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    const set = new ProposalSet(s.record, 5);
    const { dropped } = addInitialArchitectures(s.record, set);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatch(/blocks/);
    expect(set.proposals.map((p) => p.origin)).toEqual(['initial+repaired', 'initial']);
    const repaired = set.proposals[0]!.arch;
    expect(repaired.architecture!.head!.kind).toBe(common.HeadKind.HEAD_KIND_RETINANET);
    expect(repaired.architecture!.rpn).toBe(common.RpnKind.RPN_KIND_NONE);
    expect(set.proposals[1]!.arch.canonical).toBe(R34_RETINA);
  });

  it("repairs suggestions into the constraints, then rejects the invalid, the repeated and the modular ones outside the seeds' structures", () => {
    const constraints = controller.SpaceConstraints.fromPartial({ heads: [common.HeadKind.HEAD_KIND_RETINANET] });
    const s = new Search(spec({ constraints })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    s.propose(R18_RETINA);
    const plan = planSuggestionRound(s.record, STRUCTURAL, 3);
    const suggestions: suggestion.Suggestion[] = [
      { architecture: wire(R18_FASTER), parentIds: ['c0001'], origin: 'mutate' }, // repaired to a RetinaNet
      { architecture: wire(R18_RETINA), parentIds: [], origin: 'sample' }, // already proposed
      { architecture: { ...wire(R34_RETINA), input: { widthPx: 0, heightPx: 512 } }, parentIds: [], origin: '' }, // invalid
      { architecture: wire(R50_RETINA), parentIds: [], origin: '' },
    ];
    const set = new ProposalSet(s.record, 3);
    const { rejected, checked } = acceptSuggestions(s.record, plan, suggestions, set, '');
    expect(checked).toBe(4);
    expect(rejected.map((r) => r.index)).toEqual([1, 2]);
    expect(rejected[0]!.reason).toMatch(/already proposed/);
    expect(rejected[1]!.reason).toMatch(/^suggestions\[2\]\.architecture/);
    expect(set.proposals.map((p) => [p.origin, p.parents, p.suggested])).toEqual([
      ['mutate+repaired', ['c0001'], true],
      ['suggestion', [], true],
    ]);
    expect(set.proposals[0]!.arch.architecture!.head!.kind).toBe(common.HeadKind.HEAD_KIND_RETINANET);
    expect(set.proposals[1]!.arch.canonical).toBe(R50_RETINA);

    // Modular stage: only the structures of the structural Pareto models.
    const m = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL });
    m.evaluate(m.propose(R18_RETINA), 0.3, 10);
    m.apply({ $case: 'stageStarted', value: MODULAR });
    const mplan = planSuggestionRound(m.record, MODULAR, 2);
    const mset = new ProposalSet(m.record, 2);
    const other = acceptSuggestions(m.record, mplan, [
      { architecture: wire('resnet18:48:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512'), parentIds: [], origin: 'mutate' },
      { architecture: wire(R34_RETINA), parentIds: [], origin: 'mutate' },
    ], mset, '');
    expect(other.rejected.map((r) => r.index)).toEqual([1]);
    expect(other.rejected[0]!.reason).toMatch(/structure is none of the stage seeds'/);
    expect(mset.proposals).toHaveLength(1);
  });
});

describe('suggestion rounds', () => {
  it('numbers rounds from the journal and derives each seed from the search seed, the candidates and the round', () => {
    const s = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL });
    expect(planSuggestionRound(s.record, STRUCTURAL, 2)).toEqual({ round: 0, stage: STRUCTURAL, count: 4, seed: mixSeed(7n, 0, 0), stageSeeds: [] });
    s.round();
    s.propose(R18_RETINA);
    const plan = planSuggestionRound(s.record, STRUCTURAL, 1);
    expect(plan.round).toBe(1);
    expect(plan.seed).toBe(mixSeed(7n, 1, 1));
    expect(new Set([mixSeed(7n, 0, 0), mixSeed(7n, 1, 1), mixSeed(7n, 0, 1), mixSeed(8n, 0, 0)]).size).toBe(4);
    // with constraints: 4 per missing proposal; never more than 64
    const c = new Search(spec({ constraints: controller.SpaceConstraints.fromPartial({ necks: [common.NeckKind.NECK_KIND_FPN] }) }));
    expect(planSuggestionRound(c.record, STRUCTURAL, 3).count).toBe(12);
    expect(planSuggestionRound(c.record, STRUCTURAL, 100).count).toBe(64);
  });

  it("seeds the modular stage with the structural Pareto models, the pareto_models most accurate of them", () => {
    const s = new Search(spec({ structural: { maxCandidates: 6, populationSize: 4, paretoModels: 2 } })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    // (AP, latency): a (0.2, 10), b (0.3, 20), c (0.4, 30) are the front; d (0.1, 40) is dominated.
    s.evaluate(s.propose(R18_RETINA), 0.2, 10).evaluate(s.propose(R18_FASTER), 0.3, 20).evaluate(s.propose(R34_RETINA), 0.4, 30).evaluate(s.propose(R50_RETINA), 0.1, 40);
    expect(modularSeeds(s.record).map((a) => a.canonical)).toEqual([R34_RETINA, R18_FASTER]);
    s.apply({ $case: 'stageStarted', value: MODULAR });
    expect(planSuggestionRound(s.record, MODULAR, 1).stageSeeds.map((a) => a.canonical)).toEqual([R34_RETINA, R18_FASTER]);
    const all = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL });
    all.evaluate(all.propose(R18_RETINA), 0.2, 10).evaluate(all.propose(R50_RETINA), 0.1, 40).evaluate(all.propose(R34_RETINA), 0.4, 30);
    expect(modularSeeds(all.record).map((a) => a.canonical)).toEqual([R18_RETINA, R34_RETINA]); // by latency
  });
});

describe('early stopping', () => {
  const rule = { medianStopping: true, minCompleted: 2, successiveHalving: undefined };

  it('stops a training below the median of its stage\'s completed curves at the step, once', () => {
    const s = new Search(spec({ earlyStopping: rule })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    const a = s.propose(R18_RETINA);
    const b = s.propose(R18_FASTER);
    const c = s.propose(R34_RETINA);
    s.evaluate(a, 0.3, 10, CandidateState.CANDIDATE_STATE_SUCCEEDED, [[10, 0.1], [20, 0.3]]);
    // one peer: below min_completed
    expect(earlyStopDecision(s.record, c, 10, 0)).toEqual({ stop: false });
    s.evaluate(b, 0.4, 20, CandidateState.CANDIDATE_STATE_SUCCEEDED, [[10, 0.3], [20, 0.4]]);
    // peers at step 10: 0.1 and 0.3, median 0.2
    expect(earlyStopDecision(s.record, c, 10, 0.2)).toEqual({ stop: false });
    expect(earlyStopDecision(s.record, c, 10, 0.19)).toEqual({ stop: true, reason: 'AP 0.1900 at step 10 is below the median 0.2000 of 2 completed candidates' });
    s.apply({ $case: 'candidateStoppedEarly', value: { candidateId: c, jobId: 'j', reason: 'r' } });
    expect(earlyStopDecision(s.record, c, 20, 0)).toEqual({ stop: false });
    // a finished candidate, an unknown one
    expect(earlyStopDecision(s.record, a, 10, 0)).toEqual({ stop: false });
    expect(earlyStopDecision(s.record, 'c9999', 10, 0)).toEqual({ stop: false });
  });

  it('never stops without the rule, and compares with the same stage only', () => {
    const off = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL });
    const a = off.propose(R18_RETINA);
    const b = off.propose(R18_FASTER);
    off.evaluate(a, 0.3, 10, CandidateState.CANDIDATE_STATE_SUCCEEDED, [[10, 0.5]]);
    expect(earlyStopDecision(off.record, b, 10, 0)).toEqual({ stop: false });
    const s = new Search(spec({ earlyStopping: { medianStopping: true, minCompleted: 1, successiveHalving: undefined } })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    s.evaluate(s.propose(R18_RETINA), 0.3, 10, CandidateState.CANDIDATE_STATE_SUCCEEDED, [[10, 0.5]]);
    s.apply({ $case: 'stageStarted', value: MODULAR });
    const m = s.propose('resnet18:48:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512', MODULAR);
    expect(earlyStopDecision(s.record, m, 10, 0)).toEqual({ stop: false });
  });
});

describe('successive halving (ASHA, stopping form)', () => {
  // min_steps 10, eta 3, max_steps 100: rungs at 10, 30, 90 (270 is past the budget).
  const halving = (overrides: Partial<controller.SearchSpec> = {}) =>
    new Search(spec({ earlyStopping: { medianStopping: false, minCompleted: 0, successiveHalving: { minSteps: 10, reductionFactor: 3 } }, fidelity: { inputScale: 0, widthMultiplier: 0, maxSteps: 100, maxSeconds: 0 }, ...overrides }))
      .apply({ $case: 'stageStarted', value: STRUCTURAL });
  const point = (s: Search, candidateId: string, step: number, ap: number) => s.apply({ $case: 'validationPointRecorded', value: { candidateId, point: { step, ap } } });

  it('lets the first at a rung go on, then keeps only the top third of the rung', () => {
    const s = halving();
    const [a, b, c, d] = [R18_RETINA, R18_FASTER, R34_RETINA, R50_RETINA].map((x) => s.propose(x));
    expect(earlyStopDecision(s.record, a!, 10, 0.1)).toEqual({ stop: false });
    point(s, a!, 10, 0.1);
    // one other at the rung: the cutoff is its AP (a quantile of one value)
    expect(earlyStopDecision(s.record, b!, 10, 0.09)).toEqual({ stop: true, reason: 'AP 0.0900 at rung step 10 is below the cutoff 0.1000 (top 1/3 of 1 other candidates there)' });
    expect(earlyStopDecision(s.record, b!, 10, 0.1).stop).toBe(false);
    point(s, b!, 10, 0.4);
    // others 0.1 and 0.4: the 2/3 quantile, numpy's linear rule: 0.1 + (2/3)(0.4 - 0.1) = 0.3
    expect(earlyStopDecision(s.record, c!, 10, 0.2999)).toMatchObject({ stop: true });
    expect(earlyStopDecision(s.record, c!, 10, 0.3001).stop).toBe(false);
    // a finished candidate's curve counts too: d's peers 0.1, 0.4 and c's final curve 0.7 -> position
    // (3-1)(2/3) = 4/3 in [0.1, 0.4, 0.7]: 0.4 + (1/3)(0.3) = 0.5
    s.evaluate(c!, 0.7, 10, CandidateState.CANDIDATE_STATE_SUCCEEDED, [[10, 0.7]]);
    expect(earlyStopDecision(s.record, d!, 10, 0.4999)).toMatchObject({ stop: true });
    expect(earlyStopDecision(s.record, d!, 10, 0.5001).stop).toBe(false);
  });

  it('decides at the rungs only (10, 30, 90 below 100 steps), and not with the median rule\'s spec', () => {
    const s = halving();
    const [a, b] = [R18_RETINA, R18_FASTER].map((x) => s.propose(x));
    for (const step of [20, 30, 90]) point(s, a!, step, 0.5);
    expect(earlyStopDecision(s.record, b!, 20, 0)).toEqual({ stop: false });
    expect(earlyStopDecision(s.record, b!, 30, 0).stop).toBe(true);
    expect(earlyStopDecision(s.record, b!, 90, 0).stop).toBe(true);
    point(s, a!, 270, 0.5);
    expect(earlyStopDecision(s.record, b!, 270, 0)).toEqual({ stop: false });
    // eta 0 means 3
    const dflt = halving({ earlyStopping: { medianStopping: false, minCompleted: 0, successiveHalving: { minSteps: 10, reductionFactor: 0 } } });
    const [x, y] = [R18_RETINA, R18_FASTER].map((arch) => dflt.propose(arch));
    point(dflt, x!, 30, 0.5);
    expect(earlyStopDecision(dflt.record, y!, 30, 0.4).stop).toBe(true);
  });
});

describe('final training', () => {
  const final = (overrides: Partial<controller.FinalTraining> = {}) =>
    spec({
      structural: { maxCandidates: 3, populationSize: 3, paretoModels: 0 },
      modular: { maxCandidates: 0, populationSize: 0, paretoModels: 0 },
      fidelity: { inputScale: 0.125, widthMultiplier: 0.25, maxSteps: 300, maxSeconds: 0 },
      finalTraining: controller.FinalTraining.fromPartial({ enabled: true, ...overrides }),
    });
  /** Three evaluated structural candidates; the front (AP up, latency down) is a and b, c is dominated by b. */
  const searched = (s: controller.SearchSpec) => {
    const search = new Search(s).apply({ $case: 'stageStarted', value: STRUCTURAL });
    const [a, b, c] = [R18_RETINA, R18_FASTER, R34_RETINA].map((x) => search.propose(x));
    search.evaluate(a!, 0.2, 10).evaluate(b!, 0.5, 20).evaluate(c!, 0.4, 30);
    for (let i = 0; i < MAX_FRUITLESS_ROUNDS; i++) search.round();
    return { search, a: a!, b: b!, c: c! };
  };
  const ended = (search: Search, candidateId: string, status = trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED) =>
    search.apply({ $case: 'finalTrainingEnded', value: { candidateId, result: controller.FinalTrainingResult.fromPartial({ status, checkpointUri: `file:///w/${candidateId}` }) } });

  it('retrains the final front, as many at once as the parallelism allows, then ends the search', () => {
    const { search, a, b } = searched(final());
    expect(nextAction(search.record, view(0))).toEqual({ kind: 'finalTrain', candidateIds: [a, b] });
    // one of them running: the other starts (parallelism 2)
    expect(nextAction(search.record, { ...view(1), finalInflight: new Set([a]) })).toEqual({ kind: 'finalTrain', candidateIds: [b] });
    expect(nextAction(search.record, { ...view(2), finalInflight: new Set([a, b]) })).toEqual({ kind: 'wait' });
    ended(search, a);
    expect(search.record.candidates.get(a)!.finalTraining?.checkpointUri).toBe(`file:///w/${a}`);
    // a second outcome for the same candidate (an append retried) changes nothing
    ended(search, a, trainer.TrainStatus.TRAIN_STATUS_FAILED);
    expect(search.record.candidates.get(a)!.finalTraining?.status).toBe(trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED);
    expect(nextAction(search.record, { ...view(1), finalInflight: new Set([b]) })).toEqual({ kind: 'wait' });
    // a failed retraining has ended too: the search succeeds with the proxy's weights for it
    ended(search, b, trainer.TrainStatus.TRAIN_STATUS_FAILED);
    expect(nextAction(search.record, view(0))).toEqual({ kind: 'endSearch', state: SearchState.SEARCH_STATE_SUCCEEDED, reason: '' });
  });

  it('is off unless enabled, and asks for the architecture\'s input at full width with the search\'s budget by default', () => {
    const off = searched(spec({ structural: { maxCandidates: 3, populationSize: 3, paretoModels: 0 }, modular: { maxCandidates: 0, populationSize: 0, paretoModels: 0 } }));
    expect(nextAction(off.search.record, view(0)).kind).toBe('endSearch');
    const { search, b } = searched(final());
    const request = finalTrainRequest(search.record, search.record.candidates.get(b)!);
    expect(request.jobId).toBe(finalTrainJobId('s1', b));
    expect(request.jobId).toBe(`s1.${b}.final`);
    expect(request.fidelity).toEqual({ inputScale: 1, widthMultiplier: 1, maxSteps: 300, maxSeconds: 0 });
    expect(request.architecture).toEqual(wire(R18_FASTER));
    const own = searched(final({ fidelity: { inputScale: 0.25, widthMultiplier: 0, maxSteps: 0, maxSeconds: 90 } }));
    expect(finalTrainRequest(own.search.record, own.search.record.candidates.get(own.b)!).fidelity).toEqual({ inputScale: 0.25, widthMultiplier: 1, maxSteps: 0, maxSeconds: 90 });
  });

  it('keeps final results apart from evaluation results, and its outcomes through a replay', () => {
    const { search, a } = searched(final());
    const result = trainer.TrainResult.fromPartial({ jobId: `s1.${a}.final`, status: trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED });
    applyTrainResult(search.searches, events.TrainJobResult.fromPartial({ searchId: 's1', candidateId: a, final: true, result }));
    expect(search.record.finalResults.get(a)).toEqual(result);
    expect(search.record.trainResults.has(a)).toBe(false);
    ended(search, a);
    const restarted = new Map<string, SearchRecord>();
    search.entries.forEach((entry, i) => applyJournalEntry(restarted, events.JournalEntry.decode(events.JournalEntry.encode(entry).finish()), i + 1, new Date(T0 + (i + 1) * 1000)));
    expect(restarted.get('s1')!.candidates.get(a)).toEqual(search.record.candidates.get(a));
    expect(nextAction(restarted.get('s1')!, view(0))).toEqual(nextAction(search.record, view(0)));
  });
});

describe('the journal state', () => {
  it('keeps curves (first point per step), early stops and rounds, and ignores points of finished candidates', () => {
    const s = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL });
    const a = s.propose(R18_RETINA);
    const updateTime = s.record.updateTime;
    const log = s.record.log.length;
    s.apply({ $case: 'validationPointRecorded', value: { candidateId: a, point: { step: 10, ap: 0.1 } } });
    s.apply({ $case: 'validationPointRecorded', value: { candidateId: a, point: { step: 10, ap: 0.9 } } });
    s.apply({ $case: 'validationPointRecorded', value: { candidateId: a, point: { step: 20, ap: 0.2 } } });
    s.apply({ $case: 'validationPointRecorded', value: { candidateId: 'c9999', point: { step: 20, ap: 0.2 } } });
    s.round().round();
    expect(s.record.curves).toEqual(new Map([[a, [{ step: 10, ap: 0.1 }, { step: 20, ap: 0.2 }]]]));
    expect(s.record.suggestionRounds).toBe(2);
    expect(s.record.fruitlessRounds).toBe(2);
    // the controller's own bookkeeping is no WatchSearch event and leaves the update time
    expect(s.record.log).toHaveLength(log);
    expect(s.record.updateTime).toEqual(updateTime);
    s.evaluate(a, 0.3, 10);
    s.apply({ $case: 'validationPointRecorded', value: { candidateId: a, point: { step: 30, ap: 0.3 } } });
    expect(s.record.curves.get(a)).toHaveLength(2);
    // a resumed search gets a fresh count of fruitless rounds
    s.round();
    s.apply({ $case: 'searchStateChanged', value: SearchState.SEARCH_STATE_RUNNING });
    expect(s.record.fruitlessRounds).toBe(0);
  });

  it('replays a journal into the same state: a restarted controller holds what the last one held', () => {
    const s = new Search(spec({ earlyStopping: { medianStopping: true, minCompleted: 1, successiveHalving: undefined } })).apply({ $case: 'stageStarted', value: STRUCTURAL });
    s.round();
    const a = s.propose(R18_RETINA);
    const b = s.propose(R18_FASTER);
    s.apply({ $case: 'validationPointRecorded', value: { candidateId: a, point: { step: 10, ap: 0.2 } } });
    s.apply({ $case: 'validationPointRecorded', value: { candidateId: b, point: { step: 10, ap: 0.1 } } });
    s.evaluate(a, 0.3, 10, CandidateState.CANDIDATE_STATE_SUCCEEDED, [[10, 0.2]]);
    s.apply({ $case: 'candidateStoppedEarly', value: { candidateId: b, jobId: 'j-b', reason: 'below the median' } });
    s.round().round();
    const c = s.propose(R34_RETINA);
    s.apply({ $case: 'validationPointRecorded', value: { candidateId: c, point: { step: 10, ap: 0.5 } } });
    s.apply({ $case: 'budgetChanged', value: { maxCandidates: 10, maxWallSeconds: 0 } });
    s.apply({ $case: 'searchStateChanged', value: SearchState.SEARCH_STATE_STOPPING }, 'StopSearch');

    // The restart: every entry, through the wire format, into a fresh map, at the same sequences and times.
    const restarted = new Map<string, SearchRecord>();
    s.entries.forEach((entry, i) => {
      const decoded = events.JournalEntry.decode(events.JournalEntry.encode(entry).finish());
      applyJournalEntry(restarted, decoded, i + 1, new Date(T0 + (i + 1) * 1000));
    });
    const before = s.record;
    const after = restarted.get('s1')!;
    for (const key of Object.keys(before) as (keyof SearchRecord)[]) expect(after[key], key).toEqual(before[key]);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    // what used to live only in the runner's memory
    expect(after.curves).toEqual(new Map([[a, [{ step: 10, ap: 0.2 }]], [b, [{ step: 10, ap: 0.1 }]], [c, [{ step: 10, ap: 0.5 }]]]));
    expect(after.stoppedEarly).toEqual(new Map([[b, 'below the median']]));
    expect(after.suggestionRounds).toBe(3);
    expect(after.fruitlessRounds).toBe(0);
    // and so the same decisions
    expect(planSuggestionRound(after, STRUCTURAL, 2)).toEqual(planSuggestionRound(before, STRUCTURAL, 2));
    expect(nextAction(after, view(1))).toEqual(nextAction(before, view(1)));

    // A redelivered entry (sequence already applied) changes nothing, nor does a round counted
    // already under a new sequence (a publish retried past the de-duplication window).
    applyJournalEntry(restarted, s.entries[2]!, 3, new Date(T0));
    expect(s.entries[2]!.entry?.$case).toBe('suggestionRoundStarted');
    applyJournalEntry(restarted, s.entries[2]!, 1000, new Date(T0 + 1_000_000));
    expect(restarted.get('s1')!.suggestionRounds).toBe(3);
    expect(restarted.get('s1')!.fruitlessRounds).toBe(0);
  });

  it('reads a journal written before curves, early stops and rounds were journaled', () => {
    // An old controller's entries: the new fields start empty, and the search goes on from there.
    const s = new Search(spec()).apply({ $case: 'stageStarted', value: STRUCTURAL });
    s.evaluate(s.propose(R18_RETINA), 0.3, 10, CandidateState.CANDIDATE_STATE_SUCCEEDED, [[10, 0.2]]);
    expect(s.record.curves.size).toBe(0);
    expect(s.record.stoppedEarly.size).toBe(0);
    expect(s.record.suggestionRounds).toBe(0);
    expect(s.record.candidates.get('c0001')!.metrics!.validationCurve).toEqual([{ step: 10, ap: 0.2 }]);
    expect(planSuggestionRound(s.record, STRUCTURAL, 1).round).toBe(0);
  });
});
