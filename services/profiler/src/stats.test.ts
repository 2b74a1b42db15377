// Reference values computed independently with numpy 1.24 / scipy 1.10 (Debian python3-numpy,
// python3-scipy): np.percentile(x, q), np.std(x, ddof=1), scipy.stats.spearmanr.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MEASURE, measure, settled } from './measure.js';
import { percentile, ranks, spearman, summarize } from './stats.js';

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
});

describe('measurement protocol', () => {
  /** A fake clock advanced by the "run": each iteration takes the next of `durations`. */
  function fake(durations: (i: number) => number) {
    let now = 0;
    let i = 0;
    return { clock: () => now, run: () => void (now += durations(i++)), count: () => i };
  }

  it('warms up until settled, then stops when a round reaches the CV target', async () => {
    // Three slow cold iterations, then steady 10 ms +- 1%.
    const f = fake((i) => (i < 3 ? 100 - i * 20 : 10 * (1 + 0.01 * ((i % 3) - 1))));
    const m = await measure(f.run, { ...DEFAULT_MEASURE, iterationsPerRound: 10 }, f.clock);
    expect(m.stopReason).toBe('target_cv');
    expect(m.warmupIterations).toBe(6); // the cold three, then three within 10% of their median
    expect(m.rounds).toBe(1);
    expect(m.summary.p50).toBeCloseTo(10, 6);
    expect(m.summary.n).toBe(10);
  });

  it('says when the time limit ended it', async () => {
    // Alternating 10 / 30 ms never gets under 2% CV.
    const f = fake((i) => (i % 2 ? 30 : 10));
    const m = await measure(f.run, { ...DEFAULT_MEASURE, maxSeconds: 1, iterationsPerRound: 10 }, f.clock);
    expect(m.stopReason).toBe('time_limit');
    expect(m.roundCv).toBeGreaterThan(0.02);
    expect(m.elapsedSeconds).toBeGreaterThanOrEqual(1);
    expect(m.rounds).toBeGreaterThan(1);
    // The statistics cover every round's iterations, not the last round's alone.
    expect(m.summary.n).toBe(m.rounds * 10);
    expect(m.times).toHaveLength(m.rounds * 10);
    expect(m.summary.p50).toBe(20);
    expect(settled([10, 30, 10], 3, 0.1)).toBe(false);
  });
});
