// The driver of one search: it reads the search's state (a reduction of the journal), lets core.ts
// decide, and writes the decisions to the journal before it acts on them; nothing it decides lives
// only in memory (what it holds is its effects: evaluations in flight, spans, abort signals). It asks the
// suggestion service for candidates while the stage has budget and the parallelism allows, drops
// duplicates (same architecture id anywhere in the search) and suggestions outside the spec's
// constraints, evaluates each proposal in its own trace, moves from the structural stage to the
// modular stage on the structural Pareto models, and ends the search. Restarted on a replayed
// state, it resumes the evaluations in flight and goes on.
import { setTimeout as sleep } from 'node:timers/promises';
import { context, ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { trainJobCancel, type Bus } from '@sm-nas/bus';
import { common, controller, trainer, type events } from '@sm-nas/proto';
import {
  ATTR_NAS_ACCURACY_AP, ATTR_NAS_ARCH_ID, ATTR_NAS_CANDIDATE_ID, ATTR_NAS_CANDIDATE_ORIGIN, ATTR_NAS_CANDIDATE_PARENT_IDS, ATTR_NAS_CANDIDATE_RESUMED,
  ATTR_NAS_LINK, ATTR_NAS_SEARCH_ID, ATTR_NAS_SEARCH_STAGE, ATTR_NAS_SUGGESTION_ALGORITHM, ATTR_NAS_SUGGESTION_COUNT, ATTR_NAS_SUGGESTION_REJECTED,
  ATTR_NAS_SUGGESTION_ROUND, RETRYABLE_STATUSES,
} from '@sm-nas/service-kit';
import { Status } from 'nice-grpc';
import { randomBytes } from 'node:crypto';
import { stageName } from '@sm-nas/arch/wire';
import type { ServiceClients } from './clients.js';
import {
  acceptSuggestions,
  addInitialArchitectures,
  earlyStopDecision,
  finalTrainJobId,
  finalTrainingResult,
  finalTrainRequest,
  nextAction,
  nextCandidateId,
  planSuggestionRound,
  ProposalSet,
} from './core.js';
import { evaluateCandidate, publishTrainJob, trainJobId, untilAborted } from './evaluate.js';
import type { Journal } from './journal.js';
import { isDone, TERMINAL_SEARCH_STATES, type SearchRecord } from './state.js';

const { SearchState, CandidateState } = controller;

/** A context in the candidate's own trace (same trace id), for spans of work resumed or added later. */
function candidateTrace(candidate: controller.Candidate) {
  return candidate.traceId
    ? trace.setSpanContext(ROOT_CONTEXT, { traceId: candidate.traceId, spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED, isRemote: true })
    : ROOT_CONTEXT;
}

/**
 * Besides the mesh's transient statuses: a server shutting down cancels its calls (CANCELLED), and
 * a suggestion service answers FAILED_PRECONDITION, UNKNOWN or INTERNAL when its own searchspace
 * calls fail mid-restart.
 */
const SUGGESTION_RETRYABLE_STATUSES = [Status.CANCELLED, Status.UNKNOWN, Status.INTERNAL, Status.ABORTED, Status.FAILED_PRECONDITION];
const { SEARCH_STAGE_STRUCTURAL: STRUCTURAL } = common.SearchStage;

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

export class SearchRunner {
  private readonly inflight = new Map<string, Promise<void>>();
  /** Final retrainings in flight, by candidate id. */
  private readonly finals = new Map<string, Promise<void>>();
  private wakeUp: (() => void) | undefined;
  private readonly resultWaiters = new Map<string, ((r: trainer.TrainResult) => void)[]>();
  private readonly finalWaiters = new Map<string, ((r: trainer.TrainResult) => void)[]>();
  /** Progress events, journaled one after another. */
  private progress: Promise<void> = Promise.resolve();
  /** Candidates stopped early whose training this controller has told to cancel. */
  private readonly cancelSent = new Set<string>();
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
    for (const [waiting, results] of [[this.resultWaiters, this.record.trainResults], [this.finalWaiters, this.record.finalResults]] as const) {
      for (const [candidateId, waiters] of waiting) {
        const result = results.get(candidateId);
        if (!result) continue;
        waiting.delete(candidateId);
        for (const w of waiters) w(result);
      }
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
    for (const candidateId of this.finals.keys()) {
      await this.deps.bus.publish(trainJobCancel, { jobId: finalTrainJobId(this.record.id, candidateId), reason }).catch(() => {});
    }
    await this.settled();
    await Promise.all([...this.inflight.values(), ...this.finals.values()]);
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

  private trainResult(candidateId: string, final = false): Promise<trainer.TrainResult> {
    const [results, waiting] = final ? [this.record.finalResults, this.finalWaiters] : [this.record.trainResults, this.resultWaiters];
    const known = results.get(candidateId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => waiting.set(candidateId, [...(waiting.get(candidateId) ?? []), resolve]));
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

  private async loop(): Promise<void> {
    const r = this.record;
    // Evaluations that were in flight when the last controller stopped.
    for (const c of this.candidates) if (!isDone(c)) this.evaluate(c);
    while (!this.closed && !this.cancel.signal.aborted) {
      const action = nextAction(r, { inflight: this.inflight.size + this.finals.size, nowMs: Date.now(), finalInflight: new Set(this.finals.keys()) });
      switch (action.kind) {
        case 'ended':
          return;
        case 'stopping':
          this.stopping.abort(new Error('search stopped (StopSearch) before this candidate was trained'));
          if (action.stopNow) await this.setState(SearchState.SEARCH_STATE_STOPPED, 'stopped by StopSearch');
          else await this.changed();
          break;
        case 'startStage':
          await this.append({ $case: 'stageStarted', value: action.stage }, `stage/${action.stage}`);
          break;
        case 'propose':
          await this.proposeRound(action.stage, action.want);
          break;
        case 'finalTrain':
          for (const id of action.candidateIds) this.finalTrain(id);
          break;
        case 'endSearch':
          await this.setState(action.state, action.reason);
          break;
        case 'wait':
          await this.changed();
          break;
      }
    }
  }

  /**
   * Asks for suggestions and proposes the new, allowed ones (at most `want`); returns how many.
   * Whatever the suggestion service (ours or a third party's), its answer is repaired into the
   * spec's constraints and then checked as the suggestion client checks it: valid in the stage's
   * space, in the modular stage of a seed's structure, new to the search.
   */
  private async proposeRound(stage: common.SearchStage, want: number): Promise<number> {
    const r = this.record;
    const set = new ProposalSet(r, want);
    if (stage === STRUCTURAL) {
      for (const reason of addInitialArchitectures(r, set).dropped) this.deps.log(`search ${r.id}: dropped an initial architecture: ${reason}`);
    }
    let suggested: SuggestionRound | undefined;
    if (!set.full) {
      const algorithm = r.spec.algorithm;
      const client = this.deps.clients.suggestion(algorithm?.suggestionAddress ?? '');
      const plan = planSuggestionRound(r, stage, want - set.proposals.length);
      // The round is journaled before it is asked: its number (hence its seed) is never reused.
      await this.append({ $case: 'suggestionRoundStarted', value: { round: plan.round, stage } }, `round/${plan.round}`);
      const { round, count, stageSeeds, seed } = plan;
      // One round serves several candidates, so it is a trace of its own (the suggestion service's
      // work and its searchspace calls hang under it); each candidate it yields gets a
      // `candidate.suggest` span over the round's time, linked to it (see `propose`).
      const roundSpan = this.deps.tracer.startSpan(
        'suggestion.round',
        { attributes: { ...this.spanAttributes('', stage, undefined), [ATTR_NAS_SUGGESTION_COUNT]: count, [ATTR_NAS_SUGGESTION_ROUND]: round } },
        ROOT_CONTEXT,
      );
      const startTime = Date.now();
      // GetSuggestions is idempotent (the request carries the history and the round's seed,
      // journaled above), so the client retries it. A suggestion service's own calls time out under
      // load, and one restarting cuts calls short, so more than the usual statuses are retried, for
      // a while; a bad request is not.
      let response;
      try {
        response = await context.with(trace.setSpan(ROOT_CONTEXT, roundSpan), () =>
          client.getSuggestions(
            { spec: r.spec, stage, history: this.candidates, count, stageSeeds, seed, searchspaceAddress: this.deps.searchspaceAddress },
            {
              signal: AbortSignal.any([this.abort.signal, this.cancel.signal]),
              retryableStatuses: [...RETRYABLE_STATUSES, ...SUGGESTION_RETRYABLE_STATUSES],
              retryMaxMs: 5 * 60_000,
              onRetryableError: (err, attempt) => attempt % 10 === 0 && this.deps.log(`search ${r.id}: suggestion service: ${err.message}; retrying`),
            },
          ),
        );
      } catch (err) {
        roundSpan.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        roundSpan.end();
      }
      suggested = { context: roundSpan.spanContext(), startTime, endTime: Date.now() };
      const { rejected, checked } = acceptSuggestions(r, plan, response.suggestions, set, this.deps.searchspaceAddress);
      if (rejected.length > 0) {
        this.deps.log(`search ${r.id}: ${rejected.length} of ${checked} suggestion(s) rejected, e.g. ${rejected[0]!.reason}`);
      }
      roundSpan.setAttribute(ATTR_NAS_SUGGESTION_REJECTED, rejected.length);
    }
    for (const a of set.proposals) {
      if (this.closed || this.cancel.signal.aborted) break;
      await this.propose(stage, a.arch, a.parents, a.origin, a.suggested ? suggested : undefined);
    }
    return set.proposals.length;
  }

  private async propose(stage: common.SearchStage, arch: common.DescribedArchitecture, parentIds: string[], origin: string, suggested?: SuggestionRound): Promise<void> {
    const r = this.record;
    const candidateId = nextCandidateId(r);
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
            attributes: { ...this.spanAttributes(candidateId, stage, arch.id), [ATTR_NAS_CANDIDATE_ORIGIN]: origin, [ATTR_NAS_CANDIDATE_PARENT_IDS]: parentIds },
            links: [{ context: suggested.context, attributes: { [ATTR_NAS_LINK]: 'suggestion.round' } }],
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
      finalTraining: undefined,
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
        { attributes: { ...this.spanAttributes(candidate.candidateId, candidate.stage, candidate.architecture?.id), [ATTR_NAS_CANDIDATE_RESUMED]: true } },
        candidateTrace(candidate),
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
            // Progress events still being journaled belong to the curve the outcome carries.
            curve: async (id) => {
              await this.progress;
              return [...(this.record.curves.get(id) ?? [])];
            },
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
        if (accuracy) active.setAttribute(ATTR_NAS_ACCURACY_AP, accuracy.ap);
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

  /**
   * Retrains a final Pareto model in the background (a job of its own on the work queue, in the
   * candidate's trace) and journals the outcome. Repeating it after a restart is safe: the job id
   * de-duplicates the job, and a result already in the journal is taken as it is.
   */
  private finalTrain(candidateId: string): void {
    const candidate = this.record.candidates.get(candidateId);
    if (!candidate || this.finals.has(candidateId)) return;
    const span = this.deps.tracer.startSpan('candidate.final_training', { attributes: this.spanAttributes(candidateId, candidate.stage, candidate.architecture?.id) }, candidateTrace(candidate));
    const request = finalTrainRequest(this.record, candidate);
    const wait = AbortSignal.any([this.abort.signal, this.cancel.signal]);
    const run = context.with(trace.setSpan(ROOT_CONTEXT, span), async () => {
      try {
        const pending = this.trainResult(candidateId, true);
        if (!this.record.finalResults.has(candidateId)) await publishTrainJob(this.deps.bus, { searchId: this.record.id, candidateId, final: true, request }, wait);
        const result = await untilAborted(pending, wait);
        if (result.status !== trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED) span.setStatus({ code: SpanStatusCode.ERROR, message: result.failureReason });
        if (result.metrics) span.setAttribute(ATTR_NAS_ACCURACY_AP, result.metrics.ap);
        const outcome = finalTrainingResult(result, span.spanContext().traceId);
        await this.append({ $case: 'finalTrainingEnded', value: { candidateId, result: outcome } }, `final/${candidateId}`);
      } finally {
        span.end();
      }
    });
    this.finals.set(
      candidateId,
      run
        .catch((err: unknown) => {
          if (!this.closed && !this.cancel.signal.aborted) this.deps.log(`search ${this.record.id}: ${candidateId}: final training abandoned: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          this.finals.delete(candidateId);
          this.wakeUp?.();
        }),
    );
  }

  /**
   * A trainer's validation AP for a candidate at a step: journaled as a point of its curve, then the
   * median stopping rule (core.ts) decides, and a stop is journaled before the training is cancelled.
   */
  onProgress(candidateId: string, jobId: string, step: number, ap: number): void {
    const candidate = this.record.candidates.get(candidateId);
    if (!candidate || isDone(candidate)) return;
    this.progress = this.progress
      .then(() => this.recordProgress(candidateId, jobId, step, ap))
      .catch((err: unknown) => {
        if (!this.closed) this.deps.log(`search ${this.record.id}: ${candidateId}: progress not journaled: ${err instanceof Error ? err.message : String(err)}`);
      });
  }

  private async recordProgress(candidateId: string, jobId: string, step: number, ap: number): Promise<void> {
    const r = this.record;
    const candidate = r.candidates.get(candidateId);
    if (this.closed || !candidate || isDone(candidate)) return;
    if (!r.curves.get(candidateId)?.some((p) => p.step === step)) {
      await this.append({ $case: 'validationPointRecorded', value: { candidateId, point: { step, ap } } }, `curve/${candidateId}/${step}`);
    }
    const decision = earlyStopDecision(r, candidateId, step, ap);
    if (decision.stop) {
      this.deps.log(`search ${r.id}: ${candidateId}: ${decision.reason}`);
      await this.append({ $case: 'candidateStoppedEarly', value: { candidateId, jobId, reason: decision.reason } }, `early-stop/${candidateId}`);
    }
    // Stopped (now, or by a controller before a restart) and still training: tell the trainer.
    const reason = r.stoppedEarly.get(candidateId);
    if (reason === undefined || this.cancelSent.has(candidateId)) return;
    this.cancelSent.add(candidateId);
    await this.deps.bus.publish(trainJobCancel, { jobId, reason }).catch(() => this.cancelSent.delete(candidateId));
  }

  /** Waits for the loop to end (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running) {
      await this.running;
      await sleep(0);
    }
  }
}
