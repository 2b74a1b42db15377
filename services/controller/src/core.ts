// The controller's decisions, as pure functions of a search's journal state (a SearchRecord, the
// reduction of its journal) and what the runner knows of its own effects (evaluations in flight,
// the clock): what to do next (start a stage, propose how many, wait, end the stage or the search),
// which proposals to take (initial architectures and suggestions, repaired into the spec's
// constraints, checked, deduplicated), the request for a suggestion round (its number and seed), and
// whether a training stops early. runner.ts performs what they decide and journals it first, so a
// restarted controller, holding the same record, decides the same.
import { foldSeed32, validateArchitecture } from '@sm-nas/arch';
import { architectureFromWire, describedToWire, stageName } from '@sm-nas/arch/wire';
import { checkSuggestions, type SuggestionQuery } from '@sm-nas/suggestion/client';
import { common, controller, trainer, type suggestion } from '@sm-nas/proto';
import { budgetSpent } from './budget.js';
import { allowedBy, hasConstraints, repairInto } from './constraints.js';
import { medianStoppingDecision, rungSteps, successiveHalvingDecision } from './early-stopping.js';
import { frontOf, isDone, TERMINAL_SEARCH_STATES, type SearchRecord } from './state.js';

const { SearchState, CandidateState } = controller;
const { SEARCH_STAGE_STRUCTURAL: STRUCTURAL, SEARCH_STAGE_MODULAR: MODULAR } = common.SearchStage;

/** After this many suggestion rounds in a row that bring nothing new, the stage's space is spent. */
export const MAX_FRUITLESS_ROUNDS = 5;

export function stageSpec(spec: controller.SearchSpec, stage: common.SearchStage): controller.StageSpec {
  return (stage === MODULAR ? spec.modular : spec.structural) ?? { maxCandidates: 0, populationSize: 0, paretoModels: 0 };
}

/** How many more candidates the search's budget allows (Infinity: no candidate budget). */
export function remainingBudget(record: Pick<SearchRecord, 'budget' | 'candidates'>): number {
  const max = record.budget.maxCandidates;
  return max > 0 ? Math.max(0, max - record.candidates.size) : Number.POSITIVE_INFINITY;
}

/** What the runner does next. */
export type NextAction =
  /** The search has ended: the loop ends. */
  | { kind: 'ended' }
  /** StopSearch: evaluations not yet training are abandoned; once none is in flight, journal STOPPED. */
  | { kind: 'stopping'; stopNow: boolean }
  /** Journal the stage's start. */
  | { kind: 'startStage'; stage: common.SearchStage }
  /** Propose up to `want` candidates of `stage` (a suggestion round). */
  | { kind: 'propose'; stage: common.SearchStage; want: number }
  /** Retrain these final Pareto models (SearchSpec.final_training). */
  | { kind: 'finalTrain'; candidateIds: string[] }
  /** Journal the search's end (SUCCEEDED, or FAILED with the reason). */
  | { kind: 'endSearch'; state: controller.SearchState; reason: string }
  /** Wait for a change (an evaluation ending, a journal entry). */
  | { kind: 'wait' };

export interface RunnerView {
  /** Evaluations and final trainings the runner has in flight. */
  inflight: number;
  nowMs: number;
  /** The final trainings among them, by candidate id. */
  finalInflight?: ReadonlySet<string>;
}

/** The next action of a search's loop. */
export function nextAction(record: SearchRecord, view: RunnerView): NextAction {
  if (TERMINAL_SEARCH_STATES.has(record.state)) return { kind: 'ended' };
  if (record.state === SearchState.SEARCH_STATE_STOPPING) return { kind: 'stopping', stopNow: view.inflight === 0 };
  if (record.stage === common.SearchStage.SEARCH_STAGE_UNSPECIFIED) {
    return { kind: 'startStage', stage: stageSpec(record.spec, STRUCTURAL).maxCandidates > 0 ? STRUCTURAL : MODULAR };
  }
  const stage = record.stage;
  let inStage = 0;
  for (const c of record.candidates.values()) if (c.stage === stage) inStage++;
  const stageMax = stageSpec(record.spec, stage).maxCandidates;
  const parallelism = Math.max(1, record.spec.parallelism);
  const spent = budgetSpent(record, stage, view.nowMs);
  const stageOpen = !spent && inStage < stageMax && record.fruitlessRounds < MAX_FRUITLESS_ROUNDS;
  if (stageOpen && view.inflight < parallelism) {
    return { kind: 'propose', stage, want: Math.min(parallelism - view.inflight, stageMax - inStage, remainingBudget(record)) };
  }
  const evaluating = view.inflight - (view.finalInflight?.size ?? 0);
  if (!stageOpen && evaluating === 0) return endOfStage(record, stage, spent, view);
  return { kind: 'wait' };
}

/**
 * A stage with no evaluation in flight and nothing more to propose: the modular stage starts, the
 * final models are retrained, or the search ends.
 */
export function endOfStage(record: SearchRecord, stage: common.SearchStage, budgetSpent: boolean, view: RunnerView = { inflight: 0, nowMs: 0 }): NextAction {
  if (stage === STRUCTURAL && !budgetSpent && stageSpec(record.spec, MODULAR).maxCandidates > 0) {
    if (frontOf(record, STRUCTURAL).candidates.length === 0) {
      return { kind: 'endSearch', state: SearchState.SEARCH_STATE_FAILED, reason: 'no structural candidate was evaluated successfully: nothing to seed the modular stage' };
    }
    return { kind: 'startStage', stage: MODULAR };
  }
  const anySucceeded = [...record.candidates.values()].some((c) => c.state === CandidateState.CANDIDATE_STATE_SUCCEEDED);
  const pending = anySucceeded ? finalTrainingPending(record) : [];
  if (pending.length > 0) {
    const running = view.finalInflight ?? new Set<string>();
    const free = Math.max(1, record.spec.parallelism) - view.inflight;
    const start = pending.filter((id) => !running.has(id)).slice(0, Math.max(0, free));
    return start.length > 0 ? { kind: 'finalTrain', candidateIds: start } : { kind: 'wait' };
  }
  return anySucceeded
    ? { kind: 'endSearch', state: SearchState.SEARCH_STATE_SUCCEEDED, reason: '' }
    : { kind: 'endSearch', state: SearchState.SEARCH_STATE_FAILED, reason: 'no candidate was evaluated successfully' };
}

/** The search's final Pareto models (the modular front if that stage has any, else the structural one) still to be retrained, when the spec asks for it. */
export function finalTrainingPending(record: SearchRecord): string[] {
  if (!record.spec.finalTraining?.enabled) return [];
  return frontOf(record, common.SearchStage.SEARCH_STAGE_UNSPECIFIED)
    .candidates.filter((c) => !record.candidates.get(c.candidateId)?.finalTraining)
    .map((c) => c.candidateId);
}

/** The job id of a candidate's final retraining (its evaluation's is `<search>.<candidate>`). */
export function finalTrainJobId(searchId: string, candidateId: string): string {
  return `${searchId}.${candidateId}.final`;
}

/**
 * A final model's retraining request: spec.final_training's fidelity, whose zero fields mean the
 * architecture's input size at full width and the search fidelity's budget, and its schedule (or
 * the search's).
 */
export function finalTrainRequest(record: SearchRecord, candidate: controller.Candidate): trainer.TrainRequest {
  const spec = record.spec;
  const f = spec.finalTraining?.fidelity;
  const ownBudget = (f?.maxSteps ?? 0) > 0 || (f?.maxSeconds ?? 0) > 0;
  return {
    jobId: finalTrainJobId(record.id, candidate.candidateId),
    architecture: candidate.architecture?.architecture,
    dataset: spec.dataset,
    schedule: spec.finalTraining?.schedule ?? spec.schedule,
    fidelity: {
      inputScale: f?.inputScale || 1,
      widthMultiplier: f?.widthMultiplier || 1,
      maxSteps: ownBudget ? f!.maxSteps : (spec.fidelity?.maxSteps ?? 0),
      maxSeconds: ownBudget ? f!.maxSeconds : (spec.fidelity?.maxSeconds ?? 0),
    },
  };
}

/** The outcome of a final retraining, as the candidate carries it. */
export function finalTrainingResult(result: trainer.TrainResult, traceId: string): controller.FinalTrainingResult {
  return {
    status: result.status,
    accuracy: result.metrics,
    fidelity: result.fidelity,
    trainSeconds: result.trainSeconds,
    checkpointUri: result.status === trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED ? result.checkpointUri : '',
    failureReason: result.failureReason,
    traceId,
  };
}

/** The structural Pareto models the modular stage searches around (`pareto_models` most accurate; 0: all). */
export function modularSeeds(record: SearchRecord): common.DescribedArchitecture[] {
  const front = frontOf(record, STRUCTURAL).candidates;
  const limit = stageSpec(record.spec, STRUCTURAL).paretoModels;
  const chosen = limit > 0 ? [...front].sort((a, b) => (b.metrics?.accuracy?.ap ?? 0) - (a.metrics?.accuracy?.ap ?? 0)).slice(0, limit) : front;
  return chosen.map((c) => c.architecture).filter((a): a is common.DescribedArchitecture => a !== undefined);
}

/** A candidate to propose. */
export interface Proposal {
  arch: common.DescribedArchitecture;
  parents: string[];
  origin: string;
  /** From a suggestion round (not an initial architecture). */
  suggested: boolean;
}

/**
 * Proposals, at most `want`, each new to the search and to the others and inside the spec's
 * constraints; `add` takes one if it is.
 */
export class ProposalSet {
  readonly proposals: Proposal[] = [];
  private readonly seen: Set<string | undefined>;

  constructor(
    private readonly record: SearchRecord,
    readonly want: number,
  ) {
    this.seen = new Set([...record.candidates.values()].map((c) => c.architecture?.id));
  }

  get full(): boolean {
    return this.proposals.length >= this.want;
  }

  add(proposal: Proposal): boolean {
    if (this.full || this.seen.has(proposal.arch.id) || !allowedBy(this.record.spec.constraints, proposal.arch.architecture)) return false;
    this.seen.add(proposal.arch.id);
    this.proposals.push(proposal);
    return true;
  }
}

/** The spec's initial architectures (structural stage), repaired into the constraints; the invalid ones are dropped with their reason. */
export function addInitialArchitectures(record: SearchRecord, set: ProposalSet): { dropped: string[] } {
  const dropped: string[] = [];
  for (const wire of record.spec.initialArchitectures) {
    const { architecture, repaired } = repairInto(record.spec.constraints, wire);
    try {
      set.add({ arch: describedToWire(validateArchitecture(architectureFromWire(architecture))), parents: [], origin: repaired ? 'initial+repaired' : 'initial', suggested: false });
    } catch (err) {
      dropped.push(err instanceof Error ? err.message : String(err));
    }
  }
  return { dropped };
}

/** A suggestion round's request: its number (journaled before it is asked), how many, the seeds. */
export interface SuggestionRoundPlan {
  round: number;
  stage: common.SearchStage;
  count: number;
  seed: number;
  stageSeeds: common.DescribedArchitecture[];
}

/** The next suggestion round for `missing` more proposals of `stage`. */
export function planSuggestionRound(record: SearchRecord, stage: common.SearchStage, missing: number): SuggestionRoundPlan {
  const round = record.suggestionRounds;
  return {
    round,
    stage,
    // Some suggestions will be duplicates (more so once repaired into constraints): ask for more than needed.
    count: Math.min(64, missing * (hasConstraints(record.spec.constraints) ? 4 : 2)),
    seed: mixSeed(record.spec.seed, record.candidates.size, round),
    stageSeeds: stage === MODULAR ? modularSeeds(record) : [],
  };
}

/** The query a round's answer is checked against (as the suggestion client checks it). */
export function suggestionQuery(record: SearchRecord, plan: SuggestionRoundPlan, searchspaceAddress: string): SuggestionQuery {
  return {
    spec: record.spec,
    stage: stageName(plan.stage),
    history: [...record.candidates.values()],
    count: plan.count,
    stageSeeds: plan.stageSeeds,
    seed: plan.seed,
    searchspaceAddress,
  };
}

/**
 * A round's answer, whatever the suggestion service (ours or a third party's): each suggestion
 * repaired into the spec's constraints, then checked (valid in the stage's space, in the modular
 * stage of a seed's structure, new to the search), then added to `set` while it wants more.
 * Returns the rejections with their reasons.
 */
export function acceptSuggestions(
  record: SearchRecord,
  plan: SuggestionRoundPlan,
  suggestions: readonly suggestion.Suggestion[],
  set: ProposalSet,
  searchspaceAddress: string,
): { rejected: { index: number; reason: string }[]; checked: number } {
  const repaired = suggestions.map((s) => {
    const origin = s.origin || 'suggestion';
    if (!s.architecture) return { ...s, origin };
    const fixed = repairInto(record.spec.constraints, s.architecture);
    return { ...s, architecture: fixed.architecture, origin: fixed.repaired ? `${origin}+repaired` : origin };
  });
  const batch = checkSuggestions(suggestionQuery(record, plan, searchspaceAddress), repaired);
  for (const s of batch.accepted) set.add({ arch: s.described, parents: s.parentIds, origin: s.origin, suggested: true });
  return { rejected: batch.rejected, checked: repaired.length };
}

/** The id of the next candidate proposed. */
export function nextCandidateId(record: Pick<SearchRecord, 'candidates'>): string {
  return `c${String(record.candidates.size + 1).padStart(4, '0')}`;
}

export type EarlyStop = { stop: false } | { stop: true; reason: string };

/** Successive halving's settings with their defaults, or undefined when the spec does not ask for it. */
export function successiveHalvingOf(spec: controller.SearchSpec): { minSteps: number; eta: number } | undefined {
  const sh = spec.earlyStopping?.successiveHalving;
  if (!sh || sh.minSteps === 0) return undefined;
  return { minSteps: sh.minSteps, eta: sh.reductionFactor || DEFAULT_REDUCTION_FACTOR };
}

/** ASHA's usual eta (Li et al.; Ray Tune's ASHAScheduler default). */
export const DEFAULT_REDUCTION_FACTOR = 3;

/**
 * The spec's early-stopping rule (median, or successive halving at its rungs) for a candidate's
 * validation AP at a step, against its stage's other candidates; a candidate is stopped once (its
 * decision is journaled).
 */
export function earlyStopDecision(record: SearchRecord, candidateId: string, step: number, ap: number): EarlyStop {
  const candidate = record.candidates.get(candidateId);
  const rule = record.spec.earlyStopping;
  if (!candidate || isDone(candidate) || record.stoppedEarly.has(candidateId)) return { stop: false };
  const peers = [...record.candidates.values()].filter((c) => c.stage === candidate.stage && c.candidateId !== candidateId);
  if (rule?.medianStopping) {
    const completed = peers.filter((c) => c.state === CandidateState.CANDIDATE_STATE_SUCCEEDED).map((c) => c.metrics?.validationCurve ?? []);
    const decision = medianStoppingDecision(ap, step, completed, rule.minCompleted);
    if (!decision.stop) return { stop: false };
    return { stop: true, reason: `AP ${ap.toFixed(4)} at step ${step} is below the median ${decision.median!.toFixed(4)} of ${decision.peers} completed candidates` };
  }
  const halving = successiveHalvingOf(record.spec);
  if (!halving || !rungSteps(halving.minSteps, halving.eta, record.spec.fidelity?.maxSteps ?? 0).includes(step)) return { stop: false };
  // Every AP recorded at the rung: candidates still training (their journaled curve), and those
  // done, promoted or stopped (the curve they ended with).
  const atRung = peers
    .map((c) => (record.curves.get(c.candidateId) ?? c.metrics?.validationCurve ?? []).find((p) => p.step === step)?.ap)
    .filter((v): v is number => v !== undefined);
  const decision = successiveHalvingDecision(ap, atRung, halving.eta);
  if (!decision.stop) return { stop: false };
  return {
    stop: true,
    reason: `AP ${ap.toFixed(4)} at rung step ${step} is below the cutoff ${decision.cutoff!.toFixed(4)} (top 1/${halving.eta} of ${decision.peers} other candidates there)`,
  };
}

/**
 * A request seed from the search seed and the search's progress (deterministic, distinct per round).
 * The uint64 search seed enters folded to 32 bits (foldSeed32: a seed below 2^32 is itself, so such
 * searches propose as they always did; above it the high word is mixed in, so 2^64-1 and 2^53-1,
 * with the same low word, still differ).
 */
export function mixSeed(seed: bigint, proposed: number, round: number): number {
  let h = (foldSeed32(seed) ^ 0x9e3779b9) >>> 0;
  for (const v of [proposed, round]) {
    h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}
