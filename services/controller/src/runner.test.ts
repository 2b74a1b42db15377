// The runner's side of early stopping, with in-memory fakes for the journal (entries applied by the
// reducer, de-duplicated by message id as JetStream does) and the bus: a progress event becomes a
// journaled curve point, the median rule's stop is journaled before the trainer is told, and a
// runner on the replayed state (a restarted controller) does not decide again but still tells the
// trainer once.
import { trace } from '@opentelemetry/api';
import { parseCanonical } from '@sm-nas/arch';
import { describedToWire } from '@sm-nas/arch/wire';
import type { Bus } from '@sm-nas/bus';
import { common, controller, events } from '@sm-nas/proto';
import { describe, expect, it, vi } from 'vitest';
import type { ServiceClients } from './clients.js';
import type { Journal } from './journal.js';
import { SearchRunner } from './runner.js';
import { applyJournalEntry, type SearchRecord } from './state.js';

const STRUCTURAL = common.SearchStage.SEARCH_STAGE_STRUCTURAL;
const { CandidateState } = controller;
const T0 = Date.parse('2026-11-30T00:00:00Z');

class FakeJournal {
  readonly searches = new Map<string, SearchRecord>();
  readonly entries: events.JournalEntry[] = [];
  private readonly ids = new Set<string>();

  apply(entry: events.JournalEntry): number {
    this.entries.push(entry);
    applyJournalEntry(this.searches, entry, this.entries.length, new Date(T0 + this.entries.length * 1000));
    return this.entries.length;
  }

  append = (entry: events.JournalEntry, msgId: string): Promise<number> => {
    if (this.ids.has(msgId)) return Promise.resolve(this.entries.length);
    this.ids.add(msgId);
    return Promise.resolve(this.apply(entry));
  };
}

function setUp() {
  const journal = new FakeJournal();
  const add = (entry: events.JournalEntry['entry']) => journal.apply(events.JournalEntry.fromPartial({ searchId: 's1', entry }));
  add({ $case: 'searchCreated', value: controller.SearchSpec.fromPartial({ structural: { maxCandidates: 4 }, earlyStopping: { medianStopping: true, minCompleted: 1 } }) });
  add({ $case: 'stageStarted', value: STRUCTURAL });
  for (const [id, canonical] of [['c0001', 'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512'], ['c0002', 'resnet18:64:11-21-21-21/fpn:2-6:256/rpn/faster_rcnn:256/512x512']] as const) {
    add({ $case: 'candidateProposed', value: controller.Candidate.fromPartial({ candidateId: id, stage: STRUCTURAL, architecture: describedToWire(parseCanonical(canonical)), state: CandidateState.CANDIDATE_STATE_PROPOSED }) });
  }
  const c1 = journal.searches.get('s1')!.candidates.get('c0001')!;
  add({ $case: 'candidateEvaluated', value: { ...c1, state: CandidateState.CANDIDATE_STATE_SUCCEEDED, metrics: controller.CandidateMetrics.fromPartial({ accuracy: { ap: 0.5 }, validationCurve: [{ step: 10, ap: 0.4 }] }) } });
  return { journal };
}

function runnerOn(record: SearchRecord, journal: FakeJournal) {
  const cancels: events.TrainJobCancel[] = [];
  const bus = { publish: (_subject: unknown, value: events.TrainJobCancel) => (cancels.push(value), Promise.resolve()) } as unknown as Bus;
  const runner = new SearchRunner(record, {
    journal: { append: journal.append } as unknown as Journal,
    clients: {} as ServiceClients,
    bus,
    tracer: trace.getTracer('test'),
    searchspaceAddress: '',
    profilerWaitMs: 0,
    log: () => {},
  });
  return { runner, cancels };
}

describe('the runner on trainers\' progress', () => {
  it('journals the curve and the stop before cancelling, and a restarted runner neither decides again nor forgets to cancel', async () => {
    const { journal } = setUp();
    const record = journal.searches.get('s1')!;
    const { runner, cancels } = runnerOn(record, journal);
    runner.onProgress('c0002', 'job-2', 5, 0.1); // no peer has step 5: no stop
    runner.onProgress('c0002', 'job-2', 10, 0.3); // below the peer's 0.4 at step 10
    await vi.waitFor(() => expect(cancels).toHaveLength(1));
    expect(record.curves.get('c0002')).toEqual([{ step: 5, ap: 0.1 }, { step: 10, ap: 0.3 }]);
    const reason = 'AP 0.3000 at step 10 is below the median 0.4000 of 1 completed candidates';
    expect(record.stoppedEarly).toEqual(new Map([['c0002', reason]]));
    expect(cancels[0]).toEqual({ jobId: 'job-2', reason });
    const kinds = journal.entries.slice(-3).map((e) => e.entry?.$case);
    expect(kinds).toEqual(['validationPointRecorded', 'validationPointRecorded', 'candidateStoppedEarly']);
    // a further event: nothing new to journal or send
    runner.onProgress('c0002', 'job-2', 10, 0.3);
    await new Promise((r) => setTimeout(r, 10));
    expect(cancels).toHaveLength(1);
    expect(journal.entries).toHaveLength(8);

    // The restart: the same entries into a fresh state, a new runner on it.
    const replayed = new FakeJournal();
    for (const e of journal.entries) replayed.apply(events.JournalEntry.decode(events.JournalEntry.encode(e).finish()));
    const again = replayed.searches.get('s1')!;
    expect(again.curves).toEqual(record.curves);
    expect(again.stoppedEarly).toEqual(record.stoppedEarly);
    const restarted = runnerOn(again, replayed);
    restarted.runner.onProgress('c0002', 'job-2', 20, 0.0);
    await vi.waitFor(() => expect(restarted.cancels).toEqual([{ jobId: 'job-2', reason }]));
    expect(replayed.entries.filter((e) => e.entry?.$case === 'candidateStoppedEarly')).toHaveLength(1);
    expect(again.curves.get('c0002')!.map((p) => p.step)).toEqual([5, 10, 20]);
  });

  it('ignores progress of finished and unknown candidates', async () => {
    const { journal } = setUp();
    const record = journal.searches.get('s1')!;
    const { runner, cancels } = runnerOn(record, journal);
    runner.onProgress('c0001', 'job-1', 20, 0);
    runner.onProgress('c0099', 'job-99', 20, 0);
    await new Promise((r) => setTimeout(r, 10));
    expect(journal.entries).toHaveLength(5);
    expect(cancels).toHaveLength(0);
  });
});
