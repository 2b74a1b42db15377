// The median stopping rule (Golovin et al., "Google Vizier", KDD 2017, section 3.2.2; Katib's
// medianstop): stop a trial whose objective at a step is below the median of the completed
// trials' objectives at the same step. Here the objective is validation AP, and "the same step"
// is exact because every candidate of a search evaluates at the same eval_every_steps.
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
