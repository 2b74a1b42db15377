// The controller: replays the journal into the searches' state, runs one SearchRunner per search
// that is not finished, and answers the API from that state. It owns no other state: kill it at any
// point, start another on the same NATS, and the searches go on where the journal says they were.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { trace, type Tracer } from '@opentelemetry/api';
import { ensurePipelineStreams, trainJobProgress, type Bus, type Subscription } from '@sm-nas/bus';
import { common, controller, type events } from '@sm-nas/proto';
import { DEFAULT_LIMITS, DomainError, InvalidArgumentError, LIMIT_ENV, NotFoundError } from '@sm-nas/service-kit';
import type { ServiceClients } from './clients.js';
import { Journal } from './journal.js';
import { resultsOf, writeResults } from './results.js';
import { SearchRunner } from './runner.js';
import { validateSpec, SEARCH_ID, type SearchLimits } from './spec.js';
import { applyJournalEntry, applyTrainResult, frontOf, searchMessage, TERMINAL_SEARCH_STATES, type SearchRecord } from './state.js';

const { SearchState } = controller;

export interface ControllerOptions {
  bus: Bus;
  clients: ServiceClients;
  searchspaceAddress: string;
  tracer?: Tracer;
  logger?: { info(message: string): void; error(message: string): void };
  /** SM_NAS_MAX_POPULATION, SM_NAS_MAX_INPUT_SIDE_PX, SM_NAS_MAX_CONCURRENT_SEARCHES; defaults otherwise. */
  limits?: SearchLimits;
  /**
   * How long a search waits for a profiler of its hardware class to exist (none subscribed) before
   * it fails with the reason (SM_NAS_PROFILER_WAIT_SECONDS; default 5 minutes: a profiler pod on a
   * GPU node may take that long to be scheduled and start).
   */
  profilerWaitMs?: number;
  /**
   * Where each ended search's results folder goes (`<dir>/<search id>/`: pareto.json,
   * candidates.jsonl, report.html, winners/), written when it ends and, for searches that ended
   * while no controller ran, at start (SM_NAS_RESULTS_DIR). None when unset.
   */
  resultsDir?: string;
}

export const DEFAULT_PROFILER_WAIT_MS = 5 * 60_000;

/** A request's stage filter: UNSPECIFIED (both, or the final one) or a stage; anything else is no stage at all. */
function stageArg(stage: common.SearchStage): common.SearchStage {
  if (!(stage in common.SearchStage) || stage < 0) throw new InvalidArgumentError('stage', `unknown value ${stage}; UNSPECIFIED, STRUCTURAL or MODULAR`);
  return stage;
}

const stateName = (state: controller.SearchState) => controller.searchStateToJSON(state).replace('SEARCH_STATE_', '');

export class Controller {
  readonly searches = new Map<string, SearchRecord>();
  private readonly runners = new Map<string, SearchRunner>();
  private readonly listeners = new Set<() => void>();
  private readonly journal: Journal;
  private readonly logger: { info(message: string): void; error(message: string): void };
  private started = false;
  private progress: Subscription | undefined;
  /** Creations and resumptions between their admission and their journal entry: they count toward the limit. */
  private admitting = 0;
  /** Search ids being created, so two concurrent creations of one id cannot both succeed. */
  private readonly creating = new Set<string>();
  /** Results folders being written, one after another; `close` waits for them. */
  private exports: Promise<void> = Promise.resolve();
  /** The ended state each search's folder was written for: a search resumed and ended again is written again. */
  private readonly exportedState = new Map<string, controller.SearchState>();

  constructor(private readonly options: ControllerOptions) {
    this.logger = options.logger ?? console;
    this.journal = new Journal(options.bus, this.logger);
  }

  /** Ensures the streams, replays the journal and resumes every unfinished search. */
  async start(): Promise<void> {
    await ensurePipelineStreams(this.options.bus);
    await this.journal.follow({
      entry: (entry, sequence, time) => this.changed(applyJournalEntry(this.searches, entry, sequence, time)),
      trainResult: (result) => this.changed(applyTrainResult(this.searches, result)),
    });
    this.started = true;
    // Trainers' progress (validation AP during training): curves and early stopping. A final
    // model's retraining has no say in either.
    this.progress = this.options.bus.subscribe(trainJobProgress, (event) => {
      const validation = event.progress?.validation;
      const record = this.searches.get(event.searchId);
      if (!validation || !record || !event.progress || event.final) return;
      this.runnerOf(record).onProgress(event.candidateId, event.jobId, event.progress.step, validation.ap);
    });
    const resumed = [...this.searches.values()].filter((s) => !TERMINAL_SEARCH_STATES.has(s.state));
    if (this.searches.size > 0) {
      this.logger.info(`controller: replayed ${this.searches.size} search(es) from the journal; resuming ${resumed.length}`);
    }
    for (const record of resumed) this.runnerOf(record).start();
    for (const record of this.searches.values()) {
      if (!TERMINAL_SEARCH_STATES.has(record.state) || record.deleted) continue;
      this.exportedState.set(record.id, record.state);
      this.exportResults(record, { onlyIfMissing: true });
    }
  }

  /** Writes an ended search's results folder; a failure is logged, never fails the search. */
  private exportResults(record: SearchRecord, options: { onlyIfMissing?: boolean } = {}): void {
    const dir = this.options.resultsDir;
    if (!dir) return;
    const out = join(dir, record.id);
    if (options.onlyIfMissing && existsSync(join(out, 'pareto.json'))) return;
    const results = resultsOf(record);
    this.exports = this.exports
      .then(() => writeResults(out, results))
      .then(
        () => this.logger.info(`controller: search ${record.id} results in ${out}`),
        (err: unknown) => this.logger.error(`controller: search ${record.id}: writing results to ${out} failed: ${err instanceof Error ? err.message : String(err)}`),
      );
  }

  private changed(record: SearchRecord | undefined): void {
    if (!record) return;
    if (record.deleted) {
      this.runners.get(record.id)?.close();
      this.runners.delete(record.id);
    } else if (this.started) {
      const runner = this.runnerOf(record);
      // A resumed search (RUNNING again after STOPPED) needs its loop back.
      if (!TERMINAL_SEARCH_STATES.has(record.state)) runner.start();
      runner.notify();
      const ended = TERMINAL_SEARCH_STATES.has(record.state);
      if (ended && this.exportedState.get(record.id) !== record.state) this.exportResults(record);
      if (ended) this.exportedState.set(record.id, record.state);
      else this.exportedState.delete(record.id);
    }
    for (const listener of this.listeners) listener();
  }

  private runnerOf(record: SearchRecord): SearchRunner {
    let runner = this.runners.get(record.id);
    if (!runner) {
      runner = new SearchRunner(record, {
        journal: this.journal,
        clients: this.options.clients,
        bus: this.options.bus,
        tracer: this.options.tracer ?? trace.getTracer('@sm-nas/controller'),
        searchspaceAddress: this.options.searchspaceAddress,
        profilerWaitMs: this.options.profilerWaitMs ?? DEFAULT_PROFILER_WAIT_MS,
        log: (m) => this.logger.info(m),
      });
      this.runners.set(record.id, runner);
    }
    return runner;
  }

  get(searchId: string): SearchRecord {
    if (!searchId) throw new InvalidArgumentError('search_id', 'required');
    const record = this.searches.get(searchId);
    if (!record) throw new NotFoundError(`search_id: no search ${JSON.stringify(searchId)}`);
    return record;
  }

  /**
   * Takes a slot for one more search, or RESOURCE_EXHAUSTED when SM_NAS_MAX_CONCURRENT_SEARCHES are
   * running (counted from the journal's state, so a restarted controller counts the same) or being
   * admitted. Synchronous up to the slot, so concurrent calls cannot all pass one check; the slot is
   * given back by the returned function once the search's own entry counts it (or the call failed).
   */
  private admit(): () => void {
    const limit = (this.options.limits ?? DEFAULT_LIMITS).maxConcurrentSearches;
    const active = [...this.searches.values()].filter((s) => !TERMINAL_SEARCH_STATES.has(s.state)).length;
    if (active + this.admitting >= limit) {
      throw new DomainError(
        'RESOURCE_EXHAUSTED',
        `searches: ${active} running${this.admitting ? ` and ${this.admitting} being started` : ''}, the limit is ${limit} (${LIMIT_ENV.maxConcurrentSearches}); retry when one ends, or stop one (StopSearch, force for one that cannot end)`,
      );
    }
    this.admitting++;
    let released = false;
    return () => {
      if (!released) this.admitting--;
      released = true;
    };
  }

  async create(request: controller.CreateSearchRequest): Promise<controller.Search> {
    if (request.searchId && !SEARCH_ID.test(request.searchId)) {
      throw new InvalidArgumentError('search_id', 'lowercase letters, digits and "-", starting with a letter, at most 63');
    }
    const searchId = request.searchId || `search-${randomBytes(4).toString('hex')}`;
    if (this.searches.has(searchId) || this.creating.has(searchId)) throw new DomainError('ALREADY_EXISTS', `search_id: search ${searchId} already exists`);
    const release = this.admit();
    this.creating.add(searchId);
    try {
      const spec = await validateSpec(request.spec, this.options.clients, this.options.limits, this.options.bus.maxPayload);
      // A fresh message id: a deleted search's id may be created again within the stream's
      // de-duplication window.
      await this.journal.append({ searchId, entry: { $case: 'searchCreated', value: spec }, reason: '' }, `${searchId}/created/${randomBytes(6).toString('hex')}`);
      return searchMessage(this.get(searchId));
    } finally {
      this.creating.delete(searchId);
      release();
    }
  }

  /**
   * StopSearch: STOPPING (the evaluations in flight finish, then STOPPED), or with `force`, STOPPED
   * now: the runner abandons its evaluations, cancelling their trainings, and journals their
   * candidates FAILED first, so none is left in flight by a stopped search.
   */
  async stop(request: controller.StopSearchRequest): Promise<controller.Search> {
    const record = this.get(request.searchId);
    if (TERMINAL_SEARCH_STATES.has(record.state)) {
      throw new DomainError('FAILED_PRECONDITION', `search ${record.id} has already ended (${stateName(record.state)}): nothing to stop`);
    }
    if (request.force) {
      await this.runnerOf(record).forceStop('search force-stopped (StopSearch force)');
      if (!TERMINAL_SEARCH_STATES.has(record.state)) await this.appendState(record, SearchState.SEARCH_STATE_STOPPED, 'force-stopped by StopSearch');
    } else if (record.state !== SearchState.SEARCH_STATE_STOPPING) {
      await this.appendState(record, SearchState.SEARCH_STATE_STOPPING, 'StopSearch');
    }
    return searchMessage(record);
  }

  async resume(request: controller.ResumeSearchRequest): Promise<controller.Search> {
    const record = this.get(request.searchId);
    if (record.state === SearchState.SEARCH_STATE_RUNNING || record.state === SearchState.SEARCH_STATE_PENDING) return searchMessage(record);
    if (record.state === SearchState.SEARCH_STATE_STOPPING) {
      throw new DomainError('FAILED_PRECONDITION', `search ${record.id} is stopping; resume it once it has stopped`);
    }
    if (record.state === SearchState.SEARCH_STATE_SUCCEEDED) {
      throw new DomainError('FAILED_PRECONDITION', `search ${record.id} has succeeded: nothing to resume; create a new search`);
    }
    const release = this.admit();
    try {
      if (request.budget) {
        await this.journal.append(
          { searchId: record.id, entry: { $case: 'budgetChanged', value: request.budget }, reason: '' },
          `${record.msgPrefix}/budget@${record.lastSequence}`,
        );
      }
      await this.appendState(record, SearchState.SEARCH_STATE_RUNNING, 'ResumeSearch');
    } finally {
      release();
    }
    return searchMessage(record);
  }

  /** DeleteSearch: forgets an ended search, journal, training results and results folder included. */
  async delete(request: controller.DeleteSearchRequest): Promise<void> {
    const record = this.get(request.searchId);
    if (!TERMINAL_SEARCH_STATES.has(record.state)) {
      throw new DomainError('FAILED_PRECONDITION', `search ${record.id} is ${stateName(record.state)}: stop it first (StopSearch, with force if it cannot end)`);
    }
    await this.journal.append({ searchId: record.id, entry: { $case: 'searchDeleted', value: {} }, reason: '' }, `${record.msgPrefix}/deleted`);
    await this.journal.purge(record.id);
    this.exportedState.delete(record.id);
    const dir = this.options.resultsDir;
    // After any write of it in progress; the id alone names the folder.
    if (dir) this.exports = this.exports.then(() => rm(join(dir, record.id), { recursive: true, force: true }));
    await this.exports;
  }

  private appendState(record: SearchRecord, state: controller.SearchState, reason: string): Promise<number> {
    const entry: events.JournalEntry = { searchId: record.id, entry: { $case: 'searchStateChanged', value: state }, reason };
    return this.journal.append(entry, `${record.msgPrefix}/state/${state}@${record.lastSequence}`);
  }

  listCandidates(request: controller.ListCandidatesRequest): controller.ListCandidatesResponse {
    const record = this.get(request.searchId);
    const stage = stageArg(request.stage);
    const all = [...record.candidates.values()].filter(
      (c) => stage === common.SearchStage.SEARCH_STAGE_UNSPECIFIED || c.stage === stage,
    );
    return paginate(all, request.pageSize, request.pageToken, (candidates, nextPageToken) => ({ candidates, nextPageToken }));
  }

  listSearches(request: controller.ListSearchesRequest): controller.ListSearchesResponse {
    const all = [...this.searches.values()].map(searchMessage);
    return paginate(all, request.pageSize, request.pageToken, (searches, nextPageToken) => ({ searches, nextPageToken }));
  }

  front(request: controller.GetParetoFrontRequest): controller.ParetoFront {
    return frontOf(this.get(request.searchId), stageArg(request.stage));
  }

  /** The search's events after `afterSequence`, then live ones, until the search ends or `signal` aborts. */
  async *watch(request: controller.WatchSearchRequest, signal: AbortSignal): AsyncGenerator<controller.WatchSearchResponse> {
    const record = this.get(request.searchId);
    let index = 0;
    for (;;) {
      while (index < record.log.length) {
        const event = record.log[index++]!;
        if (event.sequence > request.afterSequence) yield event;
      }
      if (TERMINAL_SEARCH_STATES.has(record.state) || signal.aborted) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.listeners.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.listeners.add(done);
        signal.addEventListener('abort', done);
      });
    }
  }

  /** Waits until every runner has ended (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.settled()));
  }

  async close(): Promise<void> {
    for (const runner of this.runners.values()) runner.close();
    this.progress?.unsubscribe();
    await this.journal.close();
    await this.exports;
    for (const listener of this.listeners) listener();
  }
}

const MAX_PAGE = 1000;

function paginate<T, R>(all: T[], pageSize: number, pageToken: string, make: (items: T[], next: string) => R): R {
  const start = pageToken ? Number(pageToken) : 0;
  if (!Number.isInteger(start) || start < 0) throw new DomainError('INVALID_ARGUMENT', 'page_token: not a token this API returned');
  const size = Math.min(MAX_PAGE, pageSize || 100);
  const items = all.slice(start, start + size);
  return make(items, start + size < all.length ? String(start + size) : '');
}
