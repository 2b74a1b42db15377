// The driver of one search: it reads the search's state (a reduction of the journal), decides, and
// writes its decisions to the journal; nothing it decides lives only in memory. It asks the
// suggestion service for candidates while the stage has budget and the parallelism allows, drops
// duplicates (same architecture id anywhere in the search) and suggestions outside the spec's
// constraints, evaluates each proposal in its own trace, moves from the structural stage to the
// modular stage on the structural Pareto models, and ends the search. Restarted on a replayed
// state, it resumes the evaluations in flight and goes on.
import { setTimeout as sleep } from 'node:timers/promises';
import { context, ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { foldSeed32, validateArchitecture } from '@sm-nas/arch';
import { architectureFromWire, describedToWire } from '@sm-nas/arch/wire';
import { trainJobCancel, type Bus } from '@sm-nas/bus';
import { checkSuggestions } from '@sm-nas/suggestion/client';
import { common, controller, type events, type trainer } from '@sm-nas/proto';
import { ATTR_NAS_ARCH_ID, ATTR_NAS_CANDIDATE_ID, ATTR_NAS_SEARCH_ID, ATTR_NAS_SEARCH_STAGE, ATTR_NAS_SUGGESTION_ALGORITHM } from '@sm-nas/service-kit';
import { randomBytes } from 'node:crypto';
import { withRetry, type ServiceClients } from './clients.js';
import { budgetSpent } from './budget.js';
import { allowedBy, hasConstraints, repairInto } from './constraints.js';
import { medianStoppingDecision } from './early-stopping.js';
import { evaluateCandidate, trainJobId } from './evaluate.js';
import type { Journal } from './journal.js';
import { frontOf, isDone, TERMINAL_SEARCH_STATES, type SearchRecord } from './state.js';

const { SearchState, CandidateState } = controller;
const { SEARCH_STAGE_STRUCTURAL: STRUCTURAL, SEARCH_STAGE_MODULAR: MODULAR } = common.SearchStage;

/** After this many suggestion rounds in a row that bring nothing new, the stage's space is spent. */
const MAX_FRUITLESS_ROUNDS = 5;

/** A suggestion round, for the spans of the candidates it yields. */
interface SuggestionRound {
  context: SpanContext;
  /** Epoch milliseconds. */
  startTime: number;
  endTime: number;
}

export interface RunnerDeps {
  journal: Journal;
  clients: ServiceClients;
  bus: Bus;
  tracer: Tracer;
  /** host:port of the searchspace service, passed to suggestion services. */
  searchspaceAddress: string;
  /** How long a search waits for a profiler of its class to exist before it fails. */
  profilerWaitMs: number;
  log(message: string): void;
}

export const stageName = (stage: common.SearchStage) => (stage === MODULAR ? 'modular' : 'structural');

export class SearchRunner {
  private readonly inflight = new Map<string, Promise<void>>();
  private wakeUp: (() => void) | undefined;
  private readonly resultWaiters = new Map<string, ((r: trainer.TrainResult) => void)[]>();
  private fruitless = 0;
  /** Validation curves of trainings in progress, from the trainers' progress events. */
  private readonly curves = new Map<string, controller.ValidationPoint[]>();
  private readonly stoppedEarly = new Set<string>();
  private suggestionRounds = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  /** The controller shuts down. */
  private readonly abort = new AbortController();
  /** The search is stopping: evaluations not yet training are abandoned (renewed on resume). */
  private stopping = new AbortController();
  /** The search is force-stopped: everything in flight is abandoned. */
  private readonly cancel = new AbortController();

  constructor(
    readonly record: SearchRecord,
    private readonly deps: RunnerDeps,
  ) {}

  /** Called after every journal message applied to this search. */
  notify(): void {
    for (const [candidateId, waiters] of this.resultWaiters) {
      const result = this.record.trainResults.get(candidateId);
      if (!result) continue;
      this.resultWaiters.delete(candidateId);
      for (const w of waiters) w(result);
    }
    this.wakeUp?.();
  }

  /** Starts the loop if it is not running (a new search, a replayed one, a resumed one). */
  start(): void {
    if (this.running || this.closed || this.cancel.signal.aborted) return;
    if (this.stopping.signal.aborted) this.stopping = new AbortController();
    this.running = this.loop()
      .catch(async (err: unknown) => {
        if (this.closed || this.cancel.signal.aborted) return;
        const reason = `controller: ${err instanceof Error ? err.message : String(err)}`;
        this.deps.log(`search ${this.record.id} failed: ${reason}`);
        await this.setState(SearchState.SEARCH_STATE_FAILED, reason).catch(() => {});
      })
      .finally(() => (this.running = undefined));
  }

  /** Stops driving (the controller is shutting down); the journal keeps everything for the next one. */
  close(): void {
    this.closed = true;
    this.abort.abort();
    this.wakeUp?.();
  }

  /**
   * Ends everything in flight now: trainings are cancelled, and every candidate not yet evaluated is
   * journaled FAILED with `reason`. The caller then journals the search's end.
   */
  async forceStop(reason: string): Promise<void> {
    this.cancel.abort(new Error(reason));
    this.stopping.abort(new Error(reason));
    this.wakeUp?.();
    for (const candidateId of this.inflight.keys()) {
      await this.deps.bus.publish(trainJobCancel, { jobId: trainJobId(this.record.id, candidateId), reason }).catch(() => {});
    }
    await this.settled();
    await Promise.all([...this.inflight.values()]);
    for (const c of this.candidates) {
      if (isDone(c)) continue;
      await this.append({ $case: 'candidateEvaluated', value: { ...c, state: CandidateState.CANDIDATE_STATE_FAILED, failureReason: reason } }, `evaluated/${c.candidateId}`);
    }
  }

  private changed(timeoutMs = 1000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  private trainResult(candidateId: string): Promise<trainer.TrainResult> {
    const known = this.record.trainResults.get(candidateId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.resultWaiters.set(candidateId, [...(this.resultWaiters.get(candidateId) ?? []), resolve]));
  }

  private async append(entry: events.JournalEntry['entry'], msgId: string, reason = ''): Promise<void> {
    await this.deps.journal.append({ searchId: this.record.id, entry, reason }, `${this.record.msgPrefix}/${msgId}`);
  }

  private setState(state: controller.SearchState, reason = ''): Promise<void> {
    return this.append({ $case: 'searchStateChanged', value: state }, `state/${state}@${this.record.lastSequence}`, reason);
  }

  private get candidates(): controller.Candidate[] {
    return [...this.record.candidates.values()];
  }

  private stageSpec(stage: common.SearchStage): controller.StageSpec {
    return (stage === MODULAR ? this.record.spec.modular : this.record.spec.structural) ?? { maxCandidates: 0, populationSize: 0, paretoModels: 0 };
  }

  private async loop(): Promise<void> {
    const r = this.record;
    // Evaluations that were in flight when the last controller stopped.
    for (const c of this.candidates) if (!isDone(c)) this.evaluate(c);
    while (!this.closed && !this.cancel.signal.aborted) {
      if (TERMINAL_SEARCH_STATES.has(r.state)) return;
      if (r.state === SearchState.SEARCH_STATE_STOPPING) {
        this.stopping.abort(new Error('search stopped (StopSearch) before this candidate was trained'));
        if (this.inflight.size === 0) await this.setState(SearchState.SEARCH_STATE_STOPPED, 'stopped by StopSearch');
        else await this.changed();
        continue;
      }
      if (r.stage === common.SearchStage.SEARCH_STAGE_UNSPECIFIED) {
        const first = this.stageSpec(STRUCTURAL).maxCandidates > 0 ? STRUCTURAL : MODULAR;
        await this.append({ $case: 'stageStarted', value: first }, `stage/${first}`);
        continue;
      }
      const stage = r.stage;
      const inStage = this.candidates.filter((c) => c.stage === stage).length;
      const stageMax = this.stageSpec(stage).maxCandidates;
      const parallelism = Math.max(1, r.spec.parallelism);
      const spent = budgetSpent(this.record, stage, Date.now());
      const stageOpen = !spent && inStage < stageMax && this.fruitless < MAX_FRUITLESS_ROUNDS;
      if (stageOpen && this.inflight.size < parallelism) {
        const want = Math.min(parallelism - this.inflight.size, stageMax - inStage, this.remainingBudget());
        const proposed = await this.proposeRound(stage, want);
        this.fruitless = proposed > 0 ? 0 : this.fruitless + 1;
        continue;
      }
      if (!stageOpen && this.inflight.size === 0) {
        await this.endStage(stage, spent);
        continue;
      }
      await this.changed();
    }
  }

  private remainingBudget(): number {
    const max = this.record.budget.maxCandidates;
    return max > 0 ? Math.max(0, max - this.record.candidates.size) : Number.POSITIVE_INFINITY;
  }

  private async endStage(stage: common.SearchStage, budgetSpent: boolean): Promise<void> {
    this.fruitless = 0;
    const front = frontOf(this.record, stage);
    if (stage === STRUCTURAL && !budgetSpent && this.stageSpec(MODULAR).maxCandidates > 0) {
      if (front.candidates.length === 0) {
        await this.setState(SearchState.SEARCH_STATE_FAILED, 'no structural candidate was evaluated successfully: nothing to seed the modular stage');
        return;
      }
      await this.append({ $case: 'stageStarted', value: MODULAR }, `stage/${MODULAR}`);
      return;
    }
    const anySucceeded = this.candidates.some((c) => c.state === CandidateState.CANDIDATE_STATE_SUCCEEDED);
    if (!anySucceeded) await this.setState(SearchState.SEARCH_STATE_FAILED, 'no candidate was evaluated successfully');
    else await this.setState(SearchState.SEARCH_STATE_SUCCEEDED);
  }

  /** The structural Pareto models the modular stage searches around (`pareto_models` most accurate; 0: all). */
  modularSeeds(): common.DescribedArchitecture[] {
    const front = frontOf(this.record, STRUCTURAL).candidates;
    const limit = this.stageSpec(STRUCTURAL).paretoModels;
    const chosen = limit > 0 ? [...front].sort((a, b) => (b.metrics?.accuracy?.ap ?? 0) - (a.metrics?.accuracy?.ap ?? 0)).slice(0, limit) : front;
    return chosen.map((c) => c.architecture).filter((a): a is common.DescribedArchitecture => a !== undefined);
  }

  /**
   * Asks for suggestions and proposes the new, allowed ones (at most `want`); returns how many.
   * Whatever the suggestion service (ours or a third party's), its answer is repaired into the
   * spec's constraints and then checked as the suggestion client checks it: valid in the stage's
   * space, in the modular stage of a seed's structure, new to the search.
   */
  private async proposeRound(stage: common.SearchStage, want: number): Promise<number> {
    const r = this.record;
    const seen = new Set(this.candidates.map((c) => c.architecture?.id));
    const accepted: { arch: common.DescribedArchitecture; parents: string[]; origin: string; suggested?: SuggestionRound }[] = [];
    const take = (described: common.DescribedArchitecture, parents: string[], origin: string, suggested?: SuggestionRound) => {
      if (accepted.length >= want || seen.has(described.id) || !allowedBy(r.spec.constraints, described.architecture)) return;
      seen.add(described.id);
      accepted.push({ arch: described, parents, origin, suggested });
    };
    if (stage === STRUCTURAL) {
      for (const wire of r.spec.initialArchitectures) {
        const { architecture, repaired } = repairInto(r.spec.constraints, wire);
        try {
          take(describedToWire(validateArchitecture(architectureFromWire(architecture))), [], repaired ? 'initial+repaired' : 'initial');
        } catch (err) {
          this.deps.log(`search ${r.id}: dropped an initial architecture: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    if (accepted.length < want) {
      const algorithm = r.spec.algorithm;
      const client = this.deps.clients.suggestion(algorithm?.suggestionAddress ?? '');
      const round = this.suggestionRounds++;
      // Some suggestions will be duplicates (more so once repaired into constraints): ask for more than needed.
      const count = Math.min(64, (want - accepted.length) * (hasConstraints(r.spec.constraints) ? 4 : 2));
      const stageSeeds = stage === MODULAR ? this.modularSeeds() : [];
      const seed = mixSeed(r.spec.seed, r.candidates.size, round);
      // One round serves several candidates, so it is a trace of its own (the suggestion service's
      // work and its searchspace calls hang under it); each candidate it yields gets a
      // `candidate.suggest` span over the round's time, linked to it (see `propose`).
      const roundSpan = this.deps.tracer.startSpan(
        'suggestion.round',
        { attributes: { ...this.spanAttributes('', stage, undefined), 'nas.suggestion.count': count, 'nas.suggestion.round': round } },
        ROOT_CONTEXT,
      );
      const startTime = Date.now();
      // Any failure is retried for a while: a suggestion service's own calls time out under load.
      let response;
      try {
        response = await context.with(trace.setSpan(ROOT_CONTEXT, roundSpan), () =>
          withRetry(
            () => client.getSuggestions({ spec: r.spec, stage, history: this.candidates, count, stageSeeds, seed, searchspaceAddress: this.deps.searchspaceAddress }),
            {
              signal: AbortSignal.any([this.abort.signal, this.cancel.signal]),
              maxMs: 5 * 60_000,
              retryAll: true,
              onRetry: (err, attempt) => attempt % 10 === 1 && this.deps.log(`search ${r.id}: suggestion service: ${err instanceof Error ? err.message : String(err)}; retrying`),
            },
          ),
        );
      } catch (err) {
        roundSpan.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        roundSpan.end();
      }
      const suggested: SuggestionRound = { context: roundSpan.spanContext(), startTime, endTime: Date.now() };
      const repaired = response.suggestions.map((s) => {
        const origin = s.origin || 'suggestion';
        if (!s.architecture) return { ...s, origin };
        const fixed = repairInto(r.spec.constraints, s.architecture);
        return { ...s, architecture: fixed.architecture, origin: fixed.repaired ? `${origin}+repaired` : origin };
      });
      const batch = checkSuggestions(
        { spec: r.spec, stage: stage === MODULAR ? 'modular' : 'structural', history: this.candidates, count, stageSeeds, seed, searchspaceAddress: this.deps.searchspaceAddress },
        repaired,
      );
      if (batch.rejected.length > 0) {
        this.deps.log(`search ${r.id}: ${batch.rejected.length} of ${repaired.length} suggestion(s) rejected, e.g. ${batch.rejected[0]!.reason}`);
      }
      roundSpan.setAttribute('nas.suggestion.rejected', batch.rejected.length);
      for (const s of batch.accepted) take(s.described, s.parentIds, s.origin, suggested);
    }
    for (const a of accepted) {
      if (this.closed || this.cancel.signal.aborted) break;
      await this.propose(stage, a.arch, a.parents, a.origin, a.suggested);
    }
    return accepted.length;
  }

  private async propose(stage: common.SearchStage, arch: common.DescribedArchitecture, parentIds: string[], origin: string, suggested?: SuggestionRound): Promise<void> {
    const r = this.record;
    const candidateId = `c${String(r.candidates.size + 1).padStart(4, '0')}`;
    // A new trace per candidate: the root is this span, not whatever context the loop runs in. A
    // suggested candidate's life starts with the round that suggested it.
    const span = this.deps.tracer.startSpan(
      'candidate.evaluate',
      { attributes: this.spanAttributes(candidateId, stage, arch.id), ...(suggested ? { startTime: suggested.startTime } : {}) },
      ROOT_CONTEXT,
    );
    if (suggested) {
      this.deps.tracer
        .startSpan(
          'candidate.suggest',
          {
            startTime: suggested.startTime,
            attributes: { ...this.spanAttributes(candidateId, stage, arch.id), 'nas.candidate.origin': origin, 'nas.candidate.parent_ids': parentIds },
            links: [{ context: suggested.context, attributes: { 'nas.link': 'suggestion.round' } }],
          },
          trace.setSpan(ROOT_CONTEXT, span),
        )
        .end(suggested.endTime);
    }
    const candidate: controller.Candidate = {
      candidateId,
      searchId: r.id,
      stage,
      architecture: arch,
      state: CandidateState.CANDIDATE_STATE_PROPOSED,
      parentIds,
      origin,
      metrics: undefined,
      checkpointUri: '',
      traceId: span.spanContext().traceId,
      failureReason: '',
      createTime: undefined,
      updateTime: undefined,
    };
    await context.with(trace.setSpan(ROOT_CONTEXT, span), () =>
      this.append({ $case: 'candidateProposed', value: candidate }, `proposed/${candidateId}`),
    );
    this.evaluate(r.candidates.get(candidateId) ?? candidate, span);
  }

  private spanAttributes(candidateId: string, stage: common.SearchStage, archId: string | undefined) {
    return {
      [ATTR_NAS_SEARCH_ID]: this.record.id,
      ...(candidateId ? { [ATTR_NAS_CANDIDATE_ID]: candidateId } : {}),
      [ATTR_NAS_SEARCH_STAGE]: stageName(stage),
      ...(archId ? { [ATTR_NAS_ARCH_ID]: archId } : {}),
      ...(this.record.spec.algorithm?.name ? { [ATTR_NAS_SUGGESTION_ALGORITHM]: this.record.spec.algorithm.name } : {}),
    };
  }

  /** Runs the candidate's evaluation in the background and journals its outcome. */
  private evaluate(candidate: controller.Candidate, span?: Span): void {
    if (this.inflight.has(candidate.candidateId)) return;
    // A resumed evaluation continues the candidate's trace (same trace id) under a new span.
    const active =
      span ??
      this.deps.tracer.startSpan(
        'candidate.evaluate',
        { attributes: { ...this.spanAttributes(candidate.candidateId, candidate.stage, candidate.architecture?.id), 'nas.candidate.resumed': true } },
        candidate.traceId
          ? trace.setSpanContext(ROOT_CONTEXT, { traceId: candidate.traceId, spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED, isRemote: true })
          : ROOT_CONTEXT,
      );
    const run = context.with(trace.setSpan(ROOT_CONTEXT, active), async () => {
      try {
        const { candidate: outcome, searchFailure } = await evaluateCandidate(
          {
            searchId: this.record.id,
            spec: this.record.spec,
            clients: this.deps.clients,
            bus: this.deps.bus,
            trainResult: (id) => this.trainResult(id),
            curve: (id) => [...(this.curves.get(id) ?? [])],
            log: (m) => this.deps.log(`search ${this.record.id}: ${m}`),
            signal: this.abort.signal,
            stopping: this.stopping.signal,
            cancelled: this.cancel.signal,
            profilerWaitMs: this.deps.profilerWaitMs,
            evaluating: (c) => this.append({ $case: 'candidateEvaluated', value: c }, `evaluating/${c.candidateId}`),
          },
          candidate,
        );
        if (outcome.state !== CandidateState.CANDIDATE_STATE_SUCCEEDED) {
          active.setStatus({ code: SpanStatusCode.ERROR, message: outcome.failureReason });
        }
        const accuracy = outcome.metrics?.accuracy;
        if (accuracy) active.setAttribute('nas.accuracy.ap', accuracy.ap);
        await this.append({ $case: 'candidateEvaluated', value: outcome }, `evaluated/${candidate.candidateId}`);
        if (searchFailure && !TERMINAL_SEARCH_STATES.has(this.record.state)) {
          this.deps.log(`search ${this.record.id} failed: ${searchFailure}`);
          await this.setState(SearchState.SEARCH_STATE_FAILED, searchFailure);
        }
      } finally {
        active.end();
      }
    });
    this.inflight.set(
      candidate.candidateId,
      run
        .catch((err: unknown) => {
          if (!this.closed) this.deps.log(`search ${this.record.id}: ${candidate.candidateId}: evaluation aborted: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          this.inflight.delete(candidate.candidateId);
          this.wakeUp?.();
        }),
    );
  }

  /** A trainer's validation AP for a candidate at a step: its curve, and the median stopping rule against the stage's completed candidates. */
  onProgress(candidateId: string, jobId: string, step: number, ap: number): void {
    const candidate = this.record.candidates.get(candidateId);
    if (!candidate || isDone(candidate)) return;
    const curve = this.curves.get(candidateId) ?? [];
    if (!curve.some((p) => p.step === step)) curve.push({ step, ap });
    this.curves.set(candidateId, curve);
    const rule = this.record.spec.earlyStopping;
    if (!rule?.medianStopping || this.stoppedEarly.has(candidateId)) return;
    const completed = this.candidates
      .filter((c) => c.stage === candidate.stage && c.state === CandidateState.CANDIDATE_STATE_SUCCEEDED)
      .map((c) => c.metrics?.validationCurve ?? []);
    const decision = medianStoppingDecision(ap, step, completed, rule.minCompleted);
    if (!decision.stop) return;
    this.stoppedEarly.add(candidateId);
    const reason = `AP ${ap.toFixed(4)} at step ${step} is below the median ${decision.median!.toFixed(4)} of ${decision.peers} completed candidates`;
    this.deps.log(`search ${this.record.id}: ${candidateId}: ${reason}`);
    void this.deps.bus.publish(trainJobCancel, { jobId, reason }).catch(() => this.stoppedEarly.delete(candidateId));
  }

  /** Waits for the loop to end (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running) {
      await this.running;
      await sleep(0);
    }
  }
}

/**
 * A request seed from the search seed and the search's progress (deterministic, distinct per round).
 * The uint64 search seed enters folded to 32 bits (foldSeed32: a seed below 2^32 is itself, so such
 * searches propose as they always did; above it the high word is mixed in, so 2^64-1 and 2^53-1,
 * with the same low word, still differ).
 */
function mixSeed(seed: bigint, proposed: number, round: number): number {
  let h = (foldSeed32(seed) ^ 0x9e3779b9) >>> 0;
  for (const v of [proposed, round]) {
    h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}
