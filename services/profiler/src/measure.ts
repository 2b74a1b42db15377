// The timing protocol: warm up until the iteration time settles, then rounds of N synchronised
// iterations until a round's coefficient of variation is under the target or the time is up (and
// say which); the statistics are over every timed iteration of every round (the last round's ten
// or twenty alone made p50 move by several percent between profiles of the same model). `run`
// must resolve only once the device has finished (the caller awaits reading the outputs back, which
// waits for every kernel); the clock stops when it resolves.
import { summarize, type TimingSummary } from './stats.js';

export interface MeasureSettings {
  /** Stop when a round's CV is below this. */
  targetCv: number;
  /** ...or when this much time has passed (warm-up included). A round in progress finishes. */
  maxSeconds: number;
  iterationsPerRound: number;
  /** Warm-up: at least this many iterations... */
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
  /** The coefficient of variation of the last round (what the stop rule reads). */
  roundCv: number;
  warmupIterations: number;
  rounds: number;
  stopReason: StopReason;
  elapsedSeconds: number;
}

export type Clock = () => number;

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
): Promise<Measurement> {
  const start = clock();
  const elapsed = () => (clock() - start) / 1000;
  const timeOne = async () => {
    // Let timers and I/O (gRPC keep-alives, NATS pings) run between iterations, outside the timing.
    await new Promise((r) => setImmediate(r));
    const t0 = clock();
    await run();
    return clock() - t0;
  };

  const warm: number[] = [];
  while (warm.length < settings.maxWarmup) {
    signal?.throwIfAborted();
    warm.push(await timeOne());
    if (warm.length >= settings.minWarmup && settled(warm, settings.settleWindow, settings.settleTolerance)) break;
    // Half the budget at most goes to warming up: a model that never settles is still measured.
    if (warm.length >= settings.minWarmup && elapsed() > settings.maxSeconds / 2) break;
  }

  let rounds = 0;
  const all: number[] = [];
  for (;;) {
    const times: number[] = [];
    for (let i = 0; i < settings.iterationsPerRound; i++) {
      signal?.throwIfAborted();
      times.push(await timeOne());
    }
    rounds++;
    all.push(...times);
    const roundCv = summarize(times).cv;
    const stopReason: StopReason | undefined = roundCv < settings.targetCv ? 'target_cv' : elapsed() >= settings.maxSeconds ? 'time_limit' : undefined;
    if (stopReason) return { summary: summarize(all), times: all, roundCv, warmupIterations: warm.length, rounds, stopReason, elapsedSeconds: elapsed() };
  }
}
