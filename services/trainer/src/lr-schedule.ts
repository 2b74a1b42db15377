// The learning rate at each step: a linear warm-up from lr * startFactor, then constant or half a
// cosine down to 0 at the step budget (SGDR's annealing without restarts). Short step-budgeted runs,
// like a search's low-fidelity candidates, end annealed with the cosine, which is what lets their
// accuracy after a few hundred steps say something about the architecture.
export type LrScheduleKind = 'constant' | 'cosine';

export interface LrScheduleOptions {
  learningRate: number;
  kind: LrScheduleKind;
  warmupSteps: number;
  warmupStartFactor: number;
  /** The step budget; the cosine reaches 0 here (required for 'cosine'). */
  maxSteps: number;
}

export function learningRateSchedule(o: LrScheduleOptions): (step: number) => number {
  if (o.kind === 'cosine' && !(o.maxSteps > 0)) throw new Error('a cosine learning-rate schedule needs a step budget (max_steps)');
  return (step) => {
    if (o.warmupSteps > 0 && step < o.warmupSteps) {
      return o.learningRate * (o.warmupStartFactor + (1 - o.warmupStartFactor) * (step / o.warmupSteps));
    }
    if (o.kind === 'constant') return o.learningRate;
    const span = Math.max(1, o.maxSteps - o.warmupSteps);
    const t = Math.min(1, (step - o.warmupSteps) / span);
    return 0.5 * o.learningRate * (1 + Math.cos(Math.PI * t));
  };
}
