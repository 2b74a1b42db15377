// A search's state is a reduction of its journal: `applyJournalEntry` and `applyTrainResult` are the
// only ways it changes, on replay after a restart and live alike, so a restarted controller holds
// exactly what the one before it held. Every change also becomes WatchSearch events, numbered 1, 2,
// 3, ... per search in the order the journal caused them (the same numbers after a replay), so a
// watcher resuming after N misses none.
import type { events, trainer } from '@sm-nas/proto';
import { common, controller } from '@sm-nas/proto';
import { paretoFront } from './pareto.js';

const { SearchState, CandidateState } = controller;
const STRUCTURAL = common.SearchStage.SEARCH_STAGE_STRUCTURAL;

export interface SearchRecord {
  id: string;
  spec: controller.SearchSpec;
  state: controller.SearchState;
  stage: common.SearchStage;
  /** Effective budget: the spec's, replaced by ResumeSearch's. */
  budget: controller.Budget;
  reason: string;
  createTime: Date;
  updateTime: Date;
  /** Proposal order. */
  candidates: Map<string, controller.Candidate>;
  /** Training results that came back for this search, by candidate id (possibly before or after a restart). */
  trainResults: Map<string, trainer.TrainResult>;
  /** Results of final Pareto models' retraining (SearchSpec.final_training), by candidate id. */
  finalResults: Map<string, trainer.TrainResult>;
  /** What WatchSearch replays, in journal order. */
  log: controller.WatchSearchResponse[];
  /** Validation curves of candidates in training, by candidate id (trainers' progress, journaled). */
  curves: Map<string, controller.ValidationPoint[]>;
  /** Candidates the early-stopping rule stopped, by candidate id: the reason. */
  stoppedEarly: Map<string, string>;
  /** Suggestion rounds started over the whole search (the next round's number). */
  suggestionRounds: number;
  /** Suggestion rounds in a row, in the current stage, that proposed nothing. */
  fruitlessRounds: number;
  /** The last journal sequence applied to this search. */
  lastSequence: number;
  /** DeleteSearch was applied: the record is no longer in the map. */
  deleted: boolean;
  /**
   * What the search's journal message ids start with: its id and the sequence of its creation, so
   * that a search created again under a deleted one's id is not de-duplicated against it.
   */
  msgPrefix: string;
}

export const TERMINAL_SEARCH_STATES: ReadonlySet<controller.SearchState> = new Set([
  SearchState.SEARCH_STATE_STOPPED,
  SearchState.SEARCH_STATE_SUCCEEDED,
  SearchState.SEARCH_STATE_FAILED,
]);

export const DONE_CANDIDATE_STATES: ReadonlySet<controller.CandidateState> = new Set([
  CandidateState.CANDIDATE_STATE_SUCCEEDED,
  CandidateState.CANDIDATE_STATE_FAILED,
  CandidateState.CANDIDATE_STATE_EARLY_STOPPED,
]);

export function isDone(candidate: controller.Candidate): boolean {
  return DONE_CANDIDATE_STATES.has(candidate.state);
}

export function newRecord(id: string, spec: controller.SearchSpec, time: Date): SearchRecord {
  return {
    id,
    spec,
    state: SearchState.SEARCH_STATE_PENDING,
    stage: common.SearchStage.SEARCH_STAGE_UNSPECIFIED,
    budget: spec.budget ?? { maxCandidates: 0, maxWallSeconds: 0 },
    reason: '',
    createTime: time,
    updateTime: time,
    candidates: new Map(),
    trainResults: new Map(),
    finalResults: new Map(),
    curves: new Map(),
    stoppedEarly: new Map(),
    suggestionRounds: 0,
    fruitlessRounds: 0,
    log: [],
    lastSequence: 0,
    deleted: false,
    msgPrefix: id,
  };
}

export function searchMessage(record: SearchRecord): controller.Search {
  let evaluated = 0;
  let failed = 0;
  for (const c of record.candidates.values()) {
    if (c.state === CandidateState.CANDIDATE_STATE_SUCCEEDED) evaluated++;
    else if (c.state === CandidateState.CANDIDATE_STATE_FAILED || c.state === CandidateState.CANDIDATE_STATE_EARLY_STOPPED) failed++;
  }
  return {
    searchId: record.id,
    spec: { ...record.spec, budget: record.budget },
    state: record.state,
    currentStage: record.stage,
    candidatesEvaluated: evaluated,
    candidatesFailed: failed,
    createTime: record.createTime,
    updateTime: record.updateTime,
    failureReason: record.reason,
  };
}

/** The Pareto front of a stage (UNSPECIFIED: the modular one if it has candidates, else the structural one). */
export function frontOf(record: SearchRecord, stage: common.SearchStage): controller.ParetoFront {
  let chosen = stage;
  if (chosen === common.SearchStage.SEARCH_STAGE_UNSPECIFIED) {
    const modularDone = [...record.candidates.values()].some(
      (c) => c.stage === common.SearchStage.SEARCH_STAGE_MODULAR && c.state === CandidateState.CANDIDATE_STATE_SUCCEEDED,
    );
    chosen = modularDone ? common.SearchStage.SEARCH_STAGE_MODULAR : STRUCTURAL;
  }
  const evaluated = [...record.candidates.values()].filter(
    (c) => c.stage === chosen && c.state === CandidateState.CANDIDATE_STATE_SUCCEEDED,
  );
  const { members, hypervolume } = paretoFront(evaluated, chosen);
  return { stage: chosen, candidates: members, hypervolume };
}

function push(record: SearchRecord, _journalSequence: number, time: Date, event: controller.WatchSearchResponse['event']): void {
  record.log.push({ sequence: BigInt(record.log.length + 1), time, event });
}

/** Applies one journal entry; returns the record (created by `searchCreated`), or undefined for an unknown search. */
export function applyJournalEntry(
  searches: Map<string, SearchRecord>,
  entry: events.JournalEntry,
  sequence: number,
  time: Date,
): SearchRecord | undefined {
  const e = entry.entry;
  if (!e) return searches.get(entry.searchId);
  if (e.$case === 'searchCreated') {
    if (searches.has(entry.searchId)) return searches.get(entry.searchId);
    const record = newRecord(entry.searchId, e.value, time);
    record.lastSequence = sequence;
    record.msgPrefix = `${entry.searchId}@${sequence}`;
    searches.set(record.id, record);
    push(record, sequence, time, { $case: 'searchUpdated', value: searchMessage(record) });
    return record;
  }
  const record = searches.get(entry.searchId);
  if (!record || sequence <= record.lastSequence) return record;
  record.lastSequence = sequence;
  // What the controller decided on its own: kept in the record, never a WatchSearch event, and the
  // search's update time stays that of what its watchers see.
  switch (e.$case) {
    case 'validationPointRecorded': {
      const { candidateId, point } = e.value;
      const candidate = record.candidates.get(candidateId);
      if (!point || !candidate || isDone(candidate)) return record;
      const curve = record.curves.get(candidateId) ?? [];
      if (!curve.some((p) => p.step === point.step)) curve.push({ step: point.step, ap: point.ap });
      record.curves.set(candidateId, curve);
      return record;
    }
    case 'candidateStoppedEarly':
      if (!record.stoppedEarly.has(e.value.candidateId)) record.stoppedEarly.set(e.value.candidateId, e.value.reason);
      return record;
    case 'suggestionRoundStarted':
      // A round counted already (a publish retried past the de-duplication window) counts once.
      if (e.value.round < record.suggestionRounds) return record;
      record.suggestionRounds = e.value.round + 1;
      record.fruitlessRounds++;
      return record;
  }
  record.updateTime = time;
  switch (e.$case) {
    case 'candidateProposed': {
      // A re-published proposal (after a crash) never replaces what is known of the candidate.
      if (record.candidates.has(e.value.candidateId)) return record;
      const candidate = { ...e.value, createTime: time, updateTime: time };
      record.candidates.set(candidate.candidateId, candidate);
      record.fruitlessRounds = 0;
      push(record, sequence, time, { $case: 'candidateUpdated', value: candidate });
      return record;
    }
    case 'candidateEvaluated': {
      const known = record.candidates.get(e.value.candidateId);
      // Evaluated once: a second evaluation of the same candidate is ignored.
      if (known && isDone(known)) return record;
      const candidate = { ...e.value, createTime: known?.createTime ?? time, updateTime: time };
      record.candidates.set(candidate.candidateId, candidate);
      push(record, sequence, time, { $case: 'candidateUpdated', value: candidate });
      if (candidate.state === CandidateState.CANDIDATE_STATE_SUCCEEDED) {
        push(record, sequence, time, { $case: 'paretoFrontUpdated', value: frontOf(record, candidate.stage) });
      }
      return record;
    }
    case 'searchStateChanged':
      record.state = e.value;
      record.reason = entry.reason;
      // Resumed: the stage's space gets another try.
      if (e.value === SearchState.SEARCH_STATE_RUNNING) record.fruitlessRounds = 0;
      break;
    case 'stageStarted':
      record.stage = e.value;
      record.fruitlessRounds = 0;
      if (record.state === SearchState.SEARCH_STATE_PENDING) record.state = SearchState.SEARCH_STATE_RUNNING;
      break;
    case 'finalTrainingEnded': {
      const known = record.candidates.get(e.value.candidateId);
      // Ended once: a second outcome (a retried append) is ignored.
      if (!known || known.finalTraining || !e.value.result) return record;
      const candidate = { ...known, finalTraining: e.value.result, updateTime: time };
      record.candidates.set(candidate.candidateId, candidate);
      push(record, sequence, time, { $case: 'candidateUpdated', value: candidate });
      return record;
    }
    case 'budgetChanged':
      record.budget = e.value;
      break;
    case 'searchDeleted':
      searches.delete(record.id);
      record.deleted = true;
      return record;
  }
  push(record, sequence, time, { $case: 'searchUpdated', value: searchMessage(record) });
  return record;
}

/** A trainer's result for one of the search's candidates (its evaluation, or its final retraining); the first one of each counts. */
export function applyTrainResult(searches: Map<string, SearchRecord>, result: events.TrainJobResult): SearchRecord | undefined {
  const record = searches.get(result.searchId);
  const results = result.final ? record?.finalResults : record?.trainResults;
  if (!record || !results || !result.result || results.has(result.candidateId)) return record;
  results.set(result.candidateId, result.result);
  return record;
}
