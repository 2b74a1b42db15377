import { describe, expect, it } from 'vitest';
import { learningRateSchedule } from './lr-schedule.js';

// Reference values computed by hand from the definitions (linear warm-up; lr/2 * (1 + cos(pi t))).
describe('learningRateSchedule', () => {
  const base = { learningRate: 0.01, warmupSteps: 10, warmupStartFactor: 0.001, maxSteps: 110 };

  it('warms up linearly from lr * startFactor', () => {
    const at = learningRateSchedule({ ...base, kind: 'cosine' });
    expect(at(0)).toBeCloseTo(1e-5, 12);
    expect(at(5)).toBeCloseTo(0.01 * (0.001 + 0.999 * 0.5), 12);
  });

  it('cosine: lr at the end of warm-up, lr/2 half way, 0 at the budget', () => {
    const at = learningRateSchedule({ ...base, kind: 'cosine' });
    expect(at(10)).toBeCloseTo(0.01, 12);
    expect(at(60)).toBeCloseTo(0.005, 12);
    expect(at(35)).toBeCloseTo(0.005 * (1 + Math.SQRT1_2), 12);
    expect(at(110)).toBeCloseTo(0, 12);
    expect(at(500)).toBeCloseTo(0, 12);
  });

  it('constant stays at lr after warm-up', () => {
    const at = learningRateSchedule({ ...base, kind: 'constant' });
    expect(at(10)).toBe(0.01);
    expect(at(1000)).toBe(0.01);
  });

  it('cosine without a step budget is refused', () => {
    expect(() => learningRateSchedule({ ...base, maxSteps: 0, kind: 'cosine' })).toThrow(/step budget/);
  });
});
