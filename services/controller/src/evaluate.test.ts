// evaluateCandidate with in-memory clients: what it asks of the flops service, the profilers and
// the training queue, in which order, and what each outcome makes of the candidate.
import { parseCanonical } from '@sm-nas/arch';
import { describedToWire } from '@sm-nas/arch/wire';
import type { Bus } from '@sm-nas/bus';
import { common, controller, trainer } from '@sm-nas/proto';
import { describe, expect, it } from 'vitest';
import type { ServiceClients } from './clients.js';
import { evaluateCandidate, trainJobId, type EvaluationContext } from './evaluate.js';

const { CandidateState } = controller;
const ARCH = describedToWire(parseCanonical('resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512'));

function candidate(over: Partial<controller.Candidate> = {}): controller.Candidate {
  return controller.Candidate.fromPartial({
    candidateId: 'c0001', stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL, state: CandidateState.CANDIDATE_STATE_PROPOSED, architecture: ARCH, ...over,
  });
}

const LATENCY = { p50Ms: 12.5, meanMs: 13, p90Ms: 14, stdMs: 0.5, iterations: 20 };

/** A context whose services answer from memory and record what they were asked, in order. */
function context(options: { result?: Partial<trainer.TrainResult>; inJournal?: boolean; flopsError?: Error } = {}) {
  const calls: string[] = [];
  let settle!: (r: trainer.TrainResult) => void;
  const pending = new Promise<trainer.TrainResult>((resolve) => (settle = resolve));
  const result = trainer.TrainResult.fromPartial({ status: trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED, metrics: { ap: 0.42 }, trainSeconds: 3, checkpointUri: 'file:///ckpt', ...options.result });
  if (options.inJournal) settle(result);
  const published: unknown[] = [];
  const clients = {
    flops: {
      count: async () => {
        calls.push('flops');
        if (options.flopsError) throw options.flopsError;
        return { flopsMultiplyAdds: 1234n, params: 56n };
      },
    },
    profile: async () => {
      calls.push('profile');
      return { latency: LATENCY };
    },
  } as unknown as ServiceClients;
  const bus = {
    publishDurable: async (_subject: unknown, payload: unknown, opts: unknown) => {
      calls.push('publish');
      published.push({ payload, opts });
      settle(result);
      return { seq: 1, duplicate: false };
    },
  } as unknown as Bus;
  const stopping = new AbortController();
  const ctx: EvaluationContext = {
    searchId: 's1',
    spec: controller.SearchSpec.fromPartial({ hardwareClass: 'cpu.test', fidelity: { maxSteps: 5 } }),
    clients,
    bus,
    trainResult: () => pending,
    log: () => {},
    curve: async () => [{ step: 5, ap: 0.42 }],
    signal: new AbortController().signal,
    stopping: stopping.signal,
    cancelled: new AbortController().signal,
    profilerWaitMs: 1000,
    evaluating: async (c) => void calls.push(`evaluating:${CandidateState[c.state]}`),
  };
  return { ctx, calls, published, stopping };
}

describe('evaluateCandidate', () => {
  it('counts FLOPs, profiles, journals EVALUATING, queues the job once and succeeds with every metric', async () => {
    const { ctx, calls, published } = context();
    const { candidate: c } = await evaluateCandidate(ctx, candidate());
    expect(calls).toEqual(['flops', 'profile', 'evaluating:CANDIDATE_STATE_EVALUATING', 'publish']);
    expect(published).toEqual([expect.objectContaining({ opts: expect.objectContaining({ msgId: trainJobId('s1', 'c0001') }) })]);
    expect(c.state).toBe(CandidateState.CANDIDATE_STATE_SUCCEEDED);
    expect(c.metrics).toMatchObject({ flopsMultiplyAdds: 1234n, params: 56n, latency: LATENCY, accuracy: { ap: 0.42 }, trainSeconds: 3 });
    expect(c.metrics!.validationCurve).toEqual([{ step: 5, ap: 0.42 }]);
    expect(c.checkpointUri).toBe('file:///ckpt');
  });

  it('does not profile in the modular stage (its objective is FLOPs)', async () => {
    const { ctx, calls } = context();
    await evaluateCandidate(ctx, candidate({ stage: common.SearchStage.SEARCH_STAGE_MODULAR }));
    expect(calls).not.toContain('profile');
  });

  it('trusts the canonical architecture it was given but checks its id, calling nothing when it does not match', async () => {
    const { ctx, calls } = context();
    const { candidate: c } = await evaluateCandidate(ctx, candidate({ architecture: { ...ARCH, id: 'a0000000000000000' } }));
    expect(c.state).toBe(CandidateState.CANDIDATE_STATE_FAILED);
    expect(c.failureReason).toMatch(/id a0000000000000000 is not the id of its canonical string/);
    expect(calls).toEqual([]);
  });

  it('resumes a candidate handed over to training: no measuring, no second EVALUATING entry', async () => {
    const { ctx, calls } = context();
    const metrics = controller.CandidateMetrics.fromPartial({ flopsMultiplyAdds: 9n, latency: LATENCY });
    const { candidate: c } = await evaluateCandidate(ctx, candidate({ state: CandidateState.CANDIDATE_STATE_EVALUATING, metrics }));
    expect(calls).toEqual(['publish']);
    expect(c.metrics!.flopsMultiplyAdds).toBe(9n);
    expect(c.state).toBe(CandidateState.CANDIDATE_STATE_SUCCEEDED);
  });

  it('uses a result already in the journal without queueing the job again', async () => {
    const { ctx, calls } = context({ inJournal: true });
    const { candidate: c } = await evaluateCandidate(ctx, candidate({ state: CandidateState.CANDIDATE_STATE_EVALUATING, metrics: { flopsMultiplyAdds: 1n } as controller.CandidateMetrics }));
    expect(calls).not.toContain('publish');
    expect(c.state).toBe(CandidateState.CANDIDATE_STATE_SUCCEEDED);
  });

  it('turns a failed training into FAILED and an early stop into EARLY_STOPPED, with the reason', async () => {
    const failedRun = context({ result: { status: trainer.TrainStatus.TRAIN_STATUS_FAILED, failureReason: 'out of memory' } });
    const f = (await evaluateCandidate(failedRun.ctx, candidate())).candidate;
    expect([f.state, f.failureReason]).toEqual([CandidateState.CANDIDATE_STATE_FAILED, 'training failed: out of memory']);
    const stopped = context({ result: { status: trainer.TrainStatus.TRAIN_STATUS_CANCELLED, failureReason: 'stopped early: below the median' } });
    const s = (await evaluateCandidate(stopped.ctx, candidate())).candidate;
    expect([s.state, s.failureReason, s.checkpointUri]).toEqual([CandidateState.CANDIDATE_STATE_EARLY_STOPPED, 'stopped early: below the median', '']);
  });

  it('fails the candidate, not the search, when the flops service refuses it', async () => {
    const { ctx, calls } = context({ flopsError: new Error('INVALID_ARGUMENT: neck.channels') });
    const e = await evaluateCandidate(ctx, candidate());
    expect(e.searchFailure).toBeUndefined();
    expect([e.candidate.state, e.candidate.failureReason]).toEqual([CandidateState.CANDIDATE_STATE_FAILED, 'flops: INVALID_ARGUMENT: neck.channels']);
    expect(calls).toEqual(['flops']);
  });

  it('ends a stopping search\'s waits before training: FAILED with the reason, nothing queued', async () => {
    const { ctx, calls, stopping } = context();
    stopping.abort(new Error('search stopping'));
    const { candidate: c } = await evaluateCandidate(ctx, candidate());
    expect([c.state, c.failureReason]).toEqual([CandidateState.CANDIDATE_STATE_FAILED, 'search stopping']);
    expect(calls).not.toContain('publish');
  });
});
