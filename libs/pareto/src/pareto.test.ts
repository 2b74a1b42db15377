// Reference values: hand-computed cases (worked out in the comments) and independent computations
// (a naive front-peeling sort, and the area of a union of rectangles by coordinate compression)
// on seeded random point sets.
import { describe, expect, it } from 'vitest';
import { crowdingDistance, dominates, hypervolume2d, nonDominatedSort, paretoFront, paretoRanks } from './index.js';

/** Deterministic points (a linear congruential generator), with ties: coordinates on a small grid. */
function randomPoints(n: number, dims: number, seed: number, grid = 20): number[][] {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % grid);
  return Array.from({ length: n }, () => Array.from({ length: dims }, next));
}

/** Independent sort: repeatedly peel off the points no remaining point dominates (O(N^3)). */
function peelFronts(points: number[][]): number[][] {
  const left = new Set(points.keys());
  const fronts: number[][] = [];
  while (left.size > 0) {
    const front = [...left].filter((i) => ![...left].some((j) => dominates(points[j]!, points[i]!)));
    fronts.push(front.sort((a, b) => a - b));
    for (const i of front) left.delete(i);
  }
  return fronts;
}

/** Independent hypervolume: the area of the union of the boxes [p, ref], cell by cell on the grid of all coordinates. */
function unionArea(points: number[][], ref: [number, number]): number {
  const xs = [...new Set([...points.map((p) => p[0]!), ref[0]])].sort((a, b) => a - b);
  const ys = [...new Set([...points.map((p) => p[1]!), ref[1]])].sort((a, b) => a - b);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    for (let j = 0; j + 1 < ys.length; j++) {
      const cx = (xs[i]! + xs[i + 1]!) / 2;
      const cy = (ys[j]! + ys[j + 1]!) / 2;
      if (cx > ref[0] || cy > ref[1]) continue;
      if (points.some((p) => p[0]! <= cx && p[1]! <= cy)) area += (xs[i + 1]! - xs[i]!) * (ys[j + 1]! - ys[j]!);
    }
  }
  return area;
}

describe('dominates', () => {
  it('needs no worse everywhere and better somewhere', () => {
    expect(dominates([1, 2], [2, 2])).toBe(true);
    expect(dominates([2, 2], [2, 2])).toBe(false);
    expect(dominates([1, 3], [2, 2])).toBe(false);
    expect(() => dominates([1], [1, 2])).toThrow(RangeError);
  });
});

describe('nonDominatedSort', () => {
  it('sorts a hand-made set into its fronts', () => {
    // (1,5) (2,2) (5,1) are mutually non-dominated; (3,3) is dominated by (2,2) only; (4,4) by
    // (2,2) and (3,3); (2,2) duplicated at index 5 stays on front 0 (equal points do not dominate).
    const points = [[1, 5], [3, 3], [2, 2], [5, 1], [4, 4], [2, 2]];
    expect(nonDominatedSort(points)).toEqual([[0, 2, 3, 5], [1], [4]]);
    expect(paretoRanks(points)).toEqual([0, 1, 0, 0, 2, 0]);
    expect(paretoFront(points)).toEqual([0, 2, 3, 5]);
    expect(nonDominatedSort([])).toEqual([]);
  });

  it('agrees with naive front peeling on random sets with ties, in 2 and 3 objectives', () => {
    for (const dims of [2, 3]) {
      for (let seed = 1; seed <= 20; seed++) {
        const points = randomPoints(40, dims, seed * 7 + dims);
        expect(nonDominatedSort(points)).toEqual(peelFronts(points));
      }
    }
  });

  it('rejects non-finite objectives', () => {
    expect(() => nonDominatedSort([[1, NaN]])).toThrow(/not finite/);
  });
});

describe('crowdingDistance', () => {
  it('matches a hand computation', () => {
    // Front (1,9) (2,6) (4,4) (8,1): ranges 7 (x) and 8 (y); ends get Infinity.
    // (2,6): x-neighbours 1 and 4 -> 3/7; y-neighbours 9 and 4 -> 5/8.  Sum 3/7 + 5/8.
    // (4,4): x-neighbours 2 and 8 -> 6/7; y-neighbours 6 and 1 -> 5/8.  Sum 6/7 + 5/8.
    const points = [[8, 1], [2, 6], [1, 9], [4, 4]];
    const d = crowdingDistance(points, [0, 1, 2, 3]);
    expect(d[0]).toBe(Infinity);
    expect(d[2]).toBe(Infinity);
    expect(d[1]).toBeCloseTo(3 / 7 + 5 / 8, 12);
    expect(d[3]).toBeCloseTo(6 / 7 + 5 / 8, 12);
  });

  it('gives Infinity to fronts of one or two, and nothing for a constant objective', () => {
    expect(crowdingDistance([[1, 1], [2, 0]], [0, 1])).toEqual([Infinity, Infinity]);
    // y constant: only x counts; (2,5) between 1 and 4 over range 3 -> 1 (a single Infinity per end).
    const d = crowdingDistance([[1, 5], [2, 5], [4, 5]], [0, 1, 2]);
    expect(d).toEqual([Infinity, 1, Infinity]);
  });
});

describe('hypervolume2d', () => {
  it('matches hand-computed areas', () => {
    // (1,3) and (2,1) with reference (4,4): 3x1 + 2x3 - overlap 2x1 = 7.
    expect(hypervolume2d([[1, 3], [2, 1]], [4, 4])).toBe(7);
    // A dominated point and a duplicate change nothing; points outside the reference add nothing.
    expect(hypervolume2d([[1, 3], [2, 1], [3, 3], [2, 1], [5, 0], [0, 4]], [4, 4])).toBe(7);
    // One point: the box to the reference.
    expect(hypervolume2d([[0.5, 0.25]], [1, 1])).toBeCloseTo(0.375, 15);
    expect(hypervolume2d([], [1, 1])).toBe(0);
  });

  it('equals the area of the union of boxes, computed cell by cell, on random sets', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const points = randomPoints(25, 2, seed);
      const ref: [number, number] = [15, 17];
      expect(hypervolume2d(points, ref)).toBe(unionArea(points, ref));
    }
  });

  it('needs two objectives', () => {
    expect(() => hypervolume2d([[1, 2, 3]], [4, 4])).toThrow(RangeError);
  });
});
