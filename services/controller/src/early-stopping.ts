// The early-stopping rules, on validation AP at a step ("the same step" is exact: every candidate
// of a search evaluates at the same eval_every_steps). The median stopping rule (Golovin et al.,
// "Google Vizier", KDD 2017, section 3.2.2; Katib's medianstop): stop a trial whose objective at a
// step is below the median of the completed trials' objectives at the same step. Asynchronous
// successive halving (Li et al., MLSys 2020): at rungs of growing step budgets, only the top
// 1/eta of the candidates seen at a rung go on.
import { quantile } from 'd3-array';
import type { controller } from '@sm-nas/proto';

export interface MedianDecision {
  stop: boolean;
  /** The median of the peers at the step, when there were enough of them. */
  median: number | undefined;
  peers: number;
}

/** Whether a candidate with `ap` at `step` should stop, given the completed peers' curves. */
export function medianStoppingDecision(
  ap: number,
  step: number,
  completedCurves: readonly (readonly controller.ValidationPoint[])[],
  minCompleted: number,
): MedianDecision {
  const values = completedCurves
    .map((curve) => curve.find((p) => p.step === step)?.ap)
    .filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (values.length === 0 || values.length < minCompleted) return { stop: false, median: undefined, peers: values.length };
  const mid = Math.floor(values.length / 2);
  const median = values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  return { stop: ap < median, median, peers: values.length };
}

/** Rung steps of successive halving: min_steps x eta^k, below `maxSteps` (0: no step budget, no bound). */
export function rungSteps(minSteps: number, eta: number, maxSteps: number): number[] {
  const rungs: number[] = [];
  // A budget in seconds only gives no bound: the rungs stop at 2^31 steps.
  const bound = maxSteps > 0 ? maxSteps : 2 ** 31;
  for (let step = minSteps; step < bound; step *= eta) rungs.push(step);
  return rungs;
}

export interface RungDecision {
  stop: boolean;
  /** The rung's cutoff from the others' APs, when any had reached it. */
  cutoff: number | undefined;
  /** Candidates (besides this one) that recorded an AP at the rung. */
  peers: number;
}

/**
 * Asynchronous successive halving at a rung (Ray Tune's ASHAScheduler, `_Bracket.on_result`): the
 * cutoff is the (1 - 1/eta) quantile, linearly interpolated as numpy's percentile, of the APs the
 * other candidates recorded at the rung; a candidate below it stops. The first at a rung always goes on.
 */
export function successiveHalvingDecision(ap: number, othersAtRung: readonly number[], eta: number): RungDecision {
  const values = othersAtRung.filter((v) => Number.isFinite(v));
  if (values.length === 0) return { stop: false, cutoff: undefined, peers: 0 };
  const cutoff = quantile(values, 1 - 1 / eta)!;
  return { stop: ap < cutoff, cutoff, peers: values.length };
}
