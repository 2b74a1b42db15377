// The timing protocol: warm up until the iteration time settles, then rounds of N synchronised
// iterations until a round's coefficient of variation is under the target or the time is up (and
// say which); the statistics are over every timed iteration of every round (the last round's ten
// or twenty alone made p50 move by several percent between profiles of the same model). `run`
// must resolve only once the device has finished (the caller awaits reading the outputs back, which
// waits for every kernel); the clock stops when it resolves.
//
// The time limit is checked before every iteration, warm-up included, so a measurement ends within
// one iteration of it: checked only after a whole round, a round of 20 slow iterations ran a
// 3-second limit to 30 s and more. Two iterations always run whatever the limit (the first warm-up
// one and one timed one: a measurement needs a time).
import { summarize, type TimingSummary } from './stats.js';

/**
 * The fewest iterations a round's coefficient of variation is read over. Below it the CV says
 * nothing: two iterations that happen to agree gave CV 0.005 and stopped a profile as "converged".
 * A smaller round is refused in a request and never stops on the CV target here.
 */
export const MIN_CV_ITERATIONS = 5;

export interface MeasureSettings {
  /** Stop when a round's CV is below this. */
  targetCv: number;
  /** ...or when this much time has passed (warm-up included), checked before each iteration. */
  maxSeconds: number;
  /** At least MIN_CV_ITERATIONS for the CV target to apply. */
  iterationsPerRound: number;
  /** Warm-up: at least this many iterations (unless half the time is gone)... */
  minWarmup: number;
  /** ...at most this many... */
  maxWarmup: number;
  /** ...until the last `settleWindow` iterations lie within `settleTolerance` of their median. */
  settleWindow: number;
  settleTolerance: number;
}

export const DEFAULT_MEASURE: MeasureSettings = {
  targetCv: 0.02,
  maxSeconds: 60,
  iterationsPerRound: 20,
  minWarmup: 2,
  maxWarmup: 30,
  settleWindow: 3,
  settleTolerance: 0.1,
};

export type StopReason = 'target_cv' | 'time_limit';

export interface Measurement {
  /** The summary of every timed iteration (all rounds, warm-up excluded). */
  summary: TimingSummary;
  /** Their times, ms, in order. */
  times: number[];
  /**
   * The coefficient of variation of the last complete round (what the stop rule reads), or of the
   * iterations timed so far when the time limit cut the first round short.
   */
  roundCv: number;
  warmupIterations: number;
  /** Rounds begun, a last one cut short by the time limit included. */
  rounds: number;
  stopReason: StopReason;
  elapsedSeconds: number;
}

export type Clock = () => number;

export interface MeasureBudget {
  /**
   * Time (ms) to keep back from `maxSeconds` for work that follows the rounds under the same limit
   * (the profiler's per-module breakdown), given the fastest iteration so far (ms): the steady
   * time, where the latest could be a cold first one that would keep back far too much.
   */
  reserveMs(iterationMs: number): number;
}

/** Whether the last `window` times lie within `tolerance` (relative) of their median. */
export function settled(times: readonly number[], window: number, tolerance: number): boolean {
  if (times.length < window) return false;
  const last = [...times.slice(-window)].sort((a, b) => a - b);
  const median = last[Math.floor(last.length / 2)]!;
  return last.every((t) => Math.abs(t - median) <= tolerance * median);
}

export async function measure(
  run: () => unknown,
  settings: MeasureSettings = DEFAULT_MEASURE,
  clock: Clock = () => performance.now(),
  signal?: AbortSignal,
  budget?: MeasureBudget,
): Promise<Measurement> {
  const start = clock();
  const elapsedMs = () => clock() - start;
  let fastestMs = Infinity;
  const limitMs = () => settings.maxSeconds * 1000 - (budget ? Math.max(0, budget.reserveMs(fastestMs)) : 0);
  const timeOne = async () => {
    // Let timers and I/O (gRPC keep-alives, NATS pings) run between iterations, outside the timing.
    await new Promise((r) => setImmediate(r));
    signal?.throwIfAborted();
    const t0 = clock();
    await run();
    const ms = clock() - t0;
    fastestMs = Math.min(fastestMs, ms);
    return ms;
  };

  const warm: number[] = [];
  for (;;) {
    warm.push(await timeOne());
    if (warm.length >= settings.maxWarmup) break;
    if (warm.length >= settings.minWarmup && settled(warm, settings.settleWindow, settings.settleTolerance)) break;
    // Half the time at most goes to warming up, `minWarmup` or not: a model that never settles, or
    // one slow enough that its minimum warm-up would eat the limit, is still measured.
    if (elapsedMs() >= limitMs() / 2) break;
  }

  const all: number[] = [];
  let round: number[] = [];
  let rounds = 0;
  let lastRoundCv: number | undefined;
  const result = (stopReason: StopReason, roundCv: number): Measurement => ({
    summary: summarize(all),
    times: all,
    roundCv,
    warmupIterations: warm.length,
    rounds,
    stopReason,
    elapsedSeconds: elapsedMs() / 1000,
  });
  for (;;) {
    if (all.length > 0 && elapsedMs() >= limitMs()) return result('time_limit', lastRoundCv ?? summarize(round).cv);
    if (round.length === 0) rounds++;
    const t = await timeOne();
    round.push(t);
    all.push(t);
    if (round.length < settings.iterationsPerRound) continue;
    const roundCv = summarize(round).cv;
    if (round.length >= MIN_CV_ITERATIONS && roundCv < settings.targetCv) return result('target_cv', roundCv);
    lastRoundCv = roundCv;
    round = [];
  }
}
