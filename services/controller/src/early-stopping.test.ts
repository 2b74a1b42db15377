import { describe, expect, it } from 'vitest';
import { medianStoppingDecision } from './early-stopping.js';

const curve = (...points: [number, number][]) => points.map(([step, ap]) => ({ step, ap }));

describe('the median stopping rule', () => {
  // Hand-computed: peers at step 10 have AP 0.1, 0.3, 0.5 -> median 0.3 (odd count: the middle one).
  const peers = [curve([10, 0.1], [20, 0.2]), curve([10, 0.3]), curve([10, 0.5], [20, 0.6])];

  it('stops below the median of the completed candidates at the same step', () => {
    expect(medianStoppingDecision(0.29, 10, peers, 1)).toEqual({ stop: true, median: 0.3, peers: 3 });
    expect(medianStoppingDecision(0.3, 10, peers, 1)).toEqual({ stop: false, median: 0.3, peers: 3 });
  });

  it('takes the mean of the two middle values for an even count, and only peers with that step', () => {
    // Step 20: 0.2 and 0.6 -> median 0.4.
    expect(medianStoppingDecision(0.39, 20, peers, 1)).toEqual({ stop: true, median: 0.4, peers: 2 });
    expect(medianStoppingDecision(0.41, 20, peers, 1).stop).toBe(false);
  });

  it('waits for min_completed peers, and never stops on no evidence', () => {
    expect(medianStoppingDecision(0, 20, peers, 3)).toEqual({ stop: false, median: undefined, peers: 2 });
    expect(medianStoppingDecision(0, 30, peers, 0)).toEqual({ stop: false, median: undefined, peers: 0 });
  });
});
