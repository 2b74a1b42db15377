// The wall budget as a deadline for results: the expected duration of a candidate is the median of
// finished ones (values below are hand-computed medians of the listed durations).
import { common, controller } from '@sm-nas/proto';
import { describe, expect, it } from 'vitest';
import { budgetSpent, expectedCandidateMs } from './budget.js';

const { SEARCH_STAGE_STRUCTURAL: STRUCTURAL, SEARCH_STAGE_MODULAR: MODULAR } = common.SearchStage;
const { CANDIDATE_STATE_SUCCEEDED: SUCCEEDED, CANDIDATE_STATE_FAILED: FAILED, CANDIDATE_STATE_EVALUATING: EVALUATING } = controller.CandidateState;

const T0 = Date.parse('2026-11-30T00:00:00Z');

function candidate(id: string, stage: common.SearchStage, state: controller.CandidateState, startS: number, seconds: number): controller.Candidate {
  return controller.Candidate.fromPartial({
    candidateId: id,
    stage,
    state,
    createTime: new Date(T0 + startS * 1000),
    updateTime: new Date(T0 + (startS + seconds) * 1000),
  });
}

function record(candidates: controller.Candidate[], budget: Partial<controller.Budget>) {
  return {
    budget: { maxCandidates: 0, maxWallSeconds: 0, ...budget },
    createTime: new Date(T0),
    candidates: new Map(candidates.map((c) => [c.candidateId, c])),
  };
}

describe('the wall budget', () => {
  const structural = [
    candidate('c1', STRUCTURAL, SUCCEEDED, 0, 100),
    candidate('c2', STRUCTURAL, FAILED, 0, 300),
    candidate('c3', STRUCTURAL, SUCCEEDED, 100, 200),
    // in flight: its duration so far says nothing yet
    candidate('c4', STRUCTURAL, EVALUATING, 300, 900),
  ];

  it("expects a candidate to take the median of its stage's finished ones, else of any stage's", () => {
    expect(expectedCandidateMs(structural, STRUCTURAL)).toBe(200_000); // median of 100, 300, 200
    expect(expectedCandidateMs(structural, MODULAR)).toBe(200_000); // no modular one finished yet
    const modular = [...structural, candidate('m1', MODULAR, SUCCEEDED, 400, 40), candidate('m2', MODULAR, SUCCEEDED, 400, 60)];
    expect(expectedCandidateMs(modular, MODULAR)).toBe(50_000); // median of 40 and 60
    expect(expectedCandidateMs([], STRUCTURAL)).toBe(0);
  });

  it('starts no candidate that would end past the budget', () => {
    const r = record(structural, { maxWallSeconds: 1000 });
    expect(budgetSpent(r, STRUCTURAL, T0 + 799_000)).toBe(false);
    expect(budgetSpent(r, STRUCTURAL, T0 + 800_000)).toBe(true);
    // nothing finished: the first candidates start until the budget itself is over
    expect(budgetSpent(record([], { maxWallSeconds: 1000 }), STRUCTURAL, T0 + 999_000)).toBe(false);
    expect(budgetSpent(record([], { maxWallSeconds: 1000 }), STRUCTURAL, T0 + 1_000_000)).toBe(true);
    // no wall budget
    expect(budgetSpent(record(structural, {}), STRUCTURAL, T0 + 10_000_000)).toBe(false);
  });

  it('counts candidates against max_candidates', () => {
    expect(budgetSpent(record(structural, { maxCandidates: 4 }), STRUCTURAL, T0)).toBe(true);
    expect(budgetSpent(record(structural, { maxCandidates: 5 }), STRUCTURAL, T0)).toBe(false);
  });
});
