// The timing protocol on fake clocks (each "run" advances the clock by a chosen time) and on the real
// one (each run sleeps): when it stops, why, and what its statistics cover.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MEASURE, measure, MIN_CV_ITERATIONS, settled } from './measure.js';

/** A fake clock advanced by the "run": each iteration takes the next of `durations`. */
function fake(durations: (i: number) => number) {
  let now = 0;
  let i = 0;
  return { clock: () => now, run: () => void (now += durations(i++)), count: () => i };
}

describe('measurement protocol', () => {
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

  it('says when the time limit ended it, within one iteration of the limit', async () => {
    // Alternating 10 / 30 ms never gets under 2% CV.
    const f = fake((i) => (i % 2 ? 30 : 10));
    const m = await measure(f.run, { ...DEFAULT_MEASURE, maxSeconds: 1, iterationsPerRound: 10 }, f.clock);
    expect(m.stopReason).toBe('time_limit');
    expect(m.roundCv).toBeGreaterThan(0.02);
    expect(m.elapsedSeconds).toBeGreaterThanOrEqual(1);
    // The deadline is read before each iteration, so the last one (30 ms at most) ends past it.
    expect(m.elapsedSeconds).toBeLessThanOrEqual(1 + 0.03);
    expect(m.elapsedSeconds).toBe(f.clock() / 1000);
    expect(m.rounds).toBeGreaterThan(1);
    // The statistics cover every timed iteration of every round (a last one cut short included),
    // not the last round's alone.
    expect(m.times.length).toBeGreaterThan(10);
    expect(m.summary.n).toBe(m.times.length);
    expect(m.rounds).toBe(Math.ceil(m.times.length / 10));
    expect(m.warmupIterations + m.times.length).toBe(f.count());
    expect(settled([10, 30, 10], 3, 0.1)).toBe(false);
  });

  it('stops a round at the deadline instead of finishing it', async () => {
    // 50 ms iterations, a 20-iteration round (1 s) and a 0.3 s limit: the round cannot finish.
    const f = fake(() => 50);
    const m = await measure(f.run, { ...DEFAULT_MEASURE, maxSeconds: 0.3, iterationsPerRound: 20 }, f.clock);
    expect(m.stopReason).toBe('time_limit');
    expect(m.elapsedSeconds).toBeGreaterThanOrEqual(0.3);
    expect(m.elapsedSeconds).toBeLessThanOrEqual(0.3 + 0.05);
    expect(m.times.length).toBeLessThan(20);
    expect(m.rounds).toBe(1);
  });

  it('obeys the limit on the real clock: ends within maxSeconds plus one iteration', async () => {
    const maxSeconds = 0.3;
    const iterationMs = 50;
    const t0 = performance.now();
    const m = await measure(() => sleep(iterationMs), { ...DEFAULT_MEASURE, maxSeconds, iterationsPerRound: 20, targetCv: 1e-9 });
    const wallMs = performance.now() - t0;
    expect(m.stopReason).toBe('time_limit');
    // One iteration past the limit, the slowest one seen standing in for it (a loaded machine
    // oversleeps), and 50 ms for the event loop between iterations.
    expect(wallMs).toBeLessThanOrEqual(maxSeconds * 1000 + Math.max(iterationMs, ...m.times) + 50);
    expect(m.times.length).toBeGreaterThan(0);
  });

  it('counts warm-up against the limit: a slow first iteration leaves one timed iteration', async () => {
    // A first iteration (compilation) longer than the whole limit, then 50 ms: no more warm-up, one
    // timed iteration for the statistics, and nothing after it.
    const f = fake((i) => (i === 0 ? 2000 : 50));
    const m = await measure(f.run, { ...DEFAULT_MEASURE, maxSeconds: 1 }, f.clock);
    expect(m.stopReason).toBe('time_limit');
    expect(m.warmupIterations).toBe(1);
    expect(m.times).toEqual([50]);
    expect(m.elapsedSeconds).toBe(2.05);
  });

  it('keeps back the time the caller reserves for what follows', async () => {
    const f = fake((i) => (i % 2 ? 60 : 40));
    // Four iterations' worth, at the latest iteration's time.
    const m = await measure(f.run, { ...DEFAULT_MEASURE, maxSeconds: 1 }, f.clock, undefined, { reserveMs: (ms) => 4 * ms });
    expect(m.stopReason).toBe('time_limit');
    // It stops once less than the reserve is left: at least four 40 ms iterations' worth before the
    // limit (one 60 ms iteration past that point at most), and no more than four 60 ms ones.
    expect(m.elapsedSeconds).toBeLessThanOrEqual(1 - (4 * 40) / 1000 + 0.06);
    expect(m.elapsedSeconds).toBeGreaterThanOrEqual(1 - (4 * 60) / 1000);
  });

  it(`needs ${MIN_CV_ITERATIONS} iterations in a round before its CV can stop the measurement`, async () => {
    // Identical iterations: CV 0, under any target, from the second iteration on.
    const short = fake(() => 10);
    const m = await measure(short.run, { ...DEFAULT_MEASURE, maxSeconds: 1, iterationsPerRound: 2 }, short.clock);
    // Rounds of two never stop on the CV; the time limit does.
    expect(m.stopReason).toBe('time_limit');
    expect(m.times.length).toBeGreaterThan(2);

    const enough = fake(() => 10);
    const n = await measure(enough.run, { ...DEFAULT_MEASURE, maxSeconds: 1, iterationsPerRound: MIN_CV_ITERATIONS }, enough.clock);
    expect(n.stopReason).toBe('target_cv');
    expect(n.summary.n).toBe(MIN_CV_ITERATIONS);
    expect(n.roundCv).toBe(0);
  });
});
