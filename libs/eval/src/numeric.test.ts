import { describe, expect, it } from 'vitest';
import { linspace, NP_SPACING_1, npMean, npSum } from './numeric.js';

describe('numpy behaviours', () => {
  it('np.sum / np.mean use pairwise summation (values printed by numpy 2.4.6)', () => {
    // a = np.array([0.1]*10 + [1e-3]*7 + [0.3]*200): np.sum(a) = 61.006999999999984,
    // np.mean(a) = 0.2811382488479262; a left-to-right loop gives 61.00699999999978.
    const a = [...Array<number>(10).fill(0.1), ...Array<number>(7).fill(1e-3), ...Array<number>(200).fill(0.3)];
    expect(npSum(a)).toBe(61.006999999999984);
    expect(npMean(a)).toBe(0.2811382488479262);
    expect(a.reduce((s, x) => s + x, 0)).toBe(61.00699999999978);
  });

  it('np.linspace and np.spacing(1)', () => {
    // np.linspace(.5, 0.95, 10) prints [0.5, 0.55, ..., 0.85, 0.8999999999999999, 0.95].
    expect(linspace(0.5, 0.95, 10)).toEqual([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
    expect(NP_SPACING_1).toBe(Number.EPSILON);
  });
});
