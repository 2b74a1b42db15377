// Each stage's front: accuracy (AP, maximised) against latency (structural) or multiply-adds
// (modular), minimised. Hypervolumes are hand-computed areas of the dominated region.
import { common, controller } from '@sm-nas/proto';
import { describe, expect, it } from 'vitest';
import { objectivesOf, paretoFront } from './pareto.js';
import { compareBaselines } from './results.js';

const { SEARCH_STAGE_STRUCTURAL: STRUCTURAL, SEARCH_STAGE_MODULAR: MODULAR } = common.SearchStage;

const candidate = (candidateId: string, ap: number, latencyMs: number, flops = 0) =>
  controller.Candidate.fromPartial({
    candidateId,
    metrics: { accuracy: { ap }, latency: latencyMs > 0 ? { latencyMsP50: latencyMs } : undefined, flopsMultiplyAdds: BigInt(flops) },
  });

describe('the Pareto front of a stage', () => {
  it('keeps the non-dominated candidates by cost, and the area they dominate up to the largest cost', () => {
    const all = [candidate('c', 0.4, 30), candidate('d', 0.1, 40), candidate('a', 0.2, 10), candidate('b', 0.3, 20), candidate('e', 0.25, 25)];
    const { members, hypervolume } = paretoFront(all, STRUCTURAL);
    expect(members.map((c) => c.candidateId)).toEqual(['a', 'b', 'c']);
    // strips to the reference cost 40: 10 x 0.2 + 10 x 0.3 + 10 x 0.4 = 9
    expect(hypervolume).toBeCloseTo(9, 12);
  });

  it('measures the modular stage in multiply-adds, keeps the first of equal candidates, and skips the unmeasured', () => {
    const { members } = paretoFront([candidate('a', 0.3, 99, 2e9), candidate('b', 0.3, 1, 2e9), candidate('c', 0.2, 1, 1e9), candidate('x', 0.9, 1, 0)], MODULAR);
    expect(members.map((c) => c.candidateId)).toEqual(['c', 'a']);
    expect(objectivesOf(candidate('n', 0.5, 0), STRUCTURAL)).toBeUndefined();
  });
});

describe('the baselines against the structural front', () => {
  it('names the front members that dominate each baseline: as accurate and as fast, better in one', () => {
    const baseline = { ...candidate('base', 0.3, 20), origin: 'initial', stage: STRUCTURAL };
    const tie = { ...candidate('tie', 0.3, 20), stage: STRUCTURAL };
    const faster = { ...candidate('fast', 0.3, 15), stage: STRUCTURAL };
    const better = { ...candidate('good', 0.35, 25), stage: STRUCTURAL };
    const front = { stage: STRUCTURAL, candidates: [faster, tie, better], hypervolume: 0 };
    const [b] = compareBaselines([baseline, tie, faster, better], front);
    // "good" is more accurate but slower; "tie" equals it: neither dominates.
    expect(b!.dominatedBy.map((d) => d.candidateId)).toEqual(['fast']);
    expect(b).toMatchObject({ candidateId: 'base', ap: 0.3, latencyMs: 20, onFront: false });
  });
});

