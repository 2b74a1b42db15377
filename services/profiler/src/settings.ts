// What a ProfileSettings message may hold. The profiler checks a Profile request with it and the
// controller checks a spec's `profiling` with it at CreateSearch, so a search never starts with
// settings its profiler would refuse on the first candidate. Kept free of tfjs: the controller
// imports it.
import type { profiler } from '@sm-nas/proto';
import { InvalidArgumentError } from '@sm-nas/service-kit';
import { MIN_CV_ITERATIONS } from './measure.js';

export const MAX_SECONDS = 3600;
export const MAX_ITERATIONS_PER_ROUND = 10_000;

function finiteIn(field: string, value: number, min: number, max: number, maxExclusive = false): number {
  if (!Number.isFinite(value) || value < min || (maxExclusive ? value >= max : value > max)) {
    throw new InvalidArgumentError(field, `must be from ${min} to ${max}${maxExclusive ? ' (exclusive)' : ''}, got ${value}`);
  }
  return value;
}

/**
 * The settings as given, each 0 where the request leaves it to the profiler's default; throws
 * INVALID_ARGUMENT naming `${prefix}.field`. A round shorter than MIN_CV_ITERATIONS is refused: a
 * coefficient of variation over fewer iterations says nothing.
 */
export function checkProfileSettings(s: profiler.ProfileSettings | undefined, prefix = 'settings'): profiler.ProfileSettings {
  const targetCoefficientOfVariation = finiteIn(`${prefix}.target_coefficient_of_variation`, s?.targetCoefficientOfVariation ?? 0, 0, 1, true);
  const maxSeconds = finiteIn(`${prefix}.max_seconds`, s?.maxSeconds ?? 0, 0, MAX_SECONDS);
  const iterationsPerRound = s?.iterationsPerRound ?? 0;
  if (!Number.isInteger(iterationsPerRound) || (iterationsPerRound !== 0 && (iterationsPerRound < MIN_CV_ITERATIONS || iterationsPerRound > MAX_ITERATIONS_PER_ROUND))) {
    throw new InvalidArgumentError(
      `${prefix}.iterations_per_round`,
      `must be 0 (the default) or from ${MIN_CV_ITERATIONS} to ${MAX_ITERATIONS_PER_ROUND}, got ${iterationsPerRound}: a coefficient of variation over fewer than ${MIN_CV_ITERATIONS} iterations says nothing`,
    );
  }
  return { targetCoefficientOfVariation, maxSeconds, iterationsPerRound };
}
