// Reference values computed independently with numpy 1.24 / scipy 1.10 (Debian python3-numpy,
// python3-scipy): np.percentile(x, q), np.std(x, ddof=1), scipy.stats.spearmanr.
import { describe, expect, it } from 'vitest';
import { kendall, percentile, ranks, spearman, summarize } from './stats.js';

describe('timing statistics', () => {
  it('matches numpy on percentiles, mean, sample std and CV', () => {
    const x = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    const s = summarize(x);
    expect(s.p50).toBeCloseTo(5.5, 12); // np.percentile(range(1, 11), 50)
    expect(s.p90).toBeCloseTo(9.1, 12); // np.percentile(range(1, 11), 90)
    expect(s.p99).toBeCloseTo(9.91, 12);
    expect(s.mean).toBe(5.5);
    expect(s.stddev).toBeCloseTo(3.0276503540974917, 12); // np.std(range(1, 11), ddof=1)
    expect(s.cv).toBeCloseTo(3.0276503540974917 / 5.5, 12);
    expect(percentile([4], 99)).toBe(4);
  });

  it('matches scipy on Spearman with ties', () => {
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
    // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).correlation = 0.8207826816681233
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 12);
    expect(spearman([1, 2, 3], [30, 20, 10])).toBe(-1);
  });

  it("Kendall's tau-b, ties counted on each side", () => {
    // By hand: of the 10 pairs, 8 concordant, 1 discordant (8 > 7 at positions 4, 5), 1 tied in b
    // (7, 7): tau-b = (8 - 1) / sqrt(10 * 9) = 0.7378647873726218, scipy.stats.kendalltau's value.
    expect(kendall([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.7378647873726218, 12);
    expect(kendall([1, 2, 3], [30, 20, 10])).toBe(-1);
    expect(kendall([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});
