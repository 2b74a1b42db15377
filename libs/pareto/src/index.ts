// Multi-objective utilities for the search: Pareto dominance, Deb's fast non-dominated sort,
// crowding distance (NSGA-II), and the exact 2-D hypervolume. Every objective is MINIMISED here;
// callers negate what they maximise (accuracy). Points are plain number arrays, so the same code
// serves the suggestion services, the controller's front and the benchmark.

export type Objectives = readonly number[];

/** True when `a` is no worse than `b` in every objective and strictly better in at least one. */
export function dominates(a: Objectives, b: Objectives): boolean {
  if (a.length !== b.length) throw new RangeError(`objective counts differ: ${a.length} vs ${b.length}`);
  let better = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x > y) return false;
    if (x < y) better = true;
  }
  return better;
}

function checkFinite(points: readonly Objectives[]): void {
  for (const [i, p] of points.entries()) {
    for (const v of p) if (!Number.isFinite(v)) throw new RangeError(`point ${i}: objective ${v} is not finite`);
  }
}

/**
 * Deb et al.'s fast non-dominated sort (NSGA-II, IEEE TEC 2002, section III-A): the indices of
 * `points` grouped into fronts, front 0 being the non-dominated set; O(M N^2). Within a front,
 * indices are in increasing order, so the result is deterministic.
 */
export function nonDominatedSort(points: readonly Objectives[]): number[][] {
  checkFinite(points);
  const n = points.length;
  const dominatedBy: number[][] = Array.from({ length: n }, () => []);
  const dominationCount = new Array<number>(n).fill(0);
  for (let p = 0; p < n; p++) {
    for (let q = p + 1; q < n; q++) {
      if (dominates(points[p]!, points[q]!)) {
        dominatedBy[p]!.push(q);
        dominationCount[q]!++;
      } else if (dominates(points[q]!, points[p]!)) {
        dominatedBy[q]!.push(p);
        dominationCount[p]!++;
      }
    }
  }
  const fronts: number[][] = [];
  let current = [...Array(n).keys()].filter((i) => dominationCount[i] === 0);
  while (current.length > 0) {
    fronts.push(current);
    const next: number[] = [];
    for (const p of current) {
      for (const q of dominatedBy[p]!) if (--dominationCount[q]! === 0) next.push(q);
    }
    current = next.sort((a, b) => a - b);
  }
  return fronts;
}

/** Front number of each point (0 = non-dominated), from `nonDominatedSort`. */
export function paretoRanks(points: readonly Objectives[]): number[] {
  const ranks = new Array<number>(points.length).fill(0);
  for (const [r, front] of nonDominatedSort(points).entries()) for (const i of front) ranks[i] = r;
  return ranks;
}

/** Indices of the non-dominated points, in increasing order. */
export function paretoFront(points: readonly Objectives[]): number[] {
  return nonDominatedSort(points)[0] ?? [];
}

/**
 * NSGA-II crowding distance of each member of one front (same order as `front`): per objective,
 * the boundary points get Infinity and the others the normalised gap between their neighbours,
 * summed over objectives. An objective on which the whole front is equal adds nothing. Ties in an
 * objective are ordered by index, so the result is deterministic.
 */
export function crowdingDistance(points: readonly Objectives[], front: readonly number[]): number[] {
  const m = front.length;
  const distance = new Array<number>(m).fill(0);
  if (m === 0) return distance;
  if (m <= 2) return distance.fill(Infinity);
  const objectives = points[front[0]!]!.length;
  for (let k = 0; k < objectives; k++) {
    const order = [...Array(m).keys()].sort((a, b) => points[front[a]!]![k]! - points[front[b]!]![k]! || front[a]! - front[b]!);
    const lo = points[front[order[0]!]!]![k]!;
    const hi = points[front[order[m - 1]!]!]![k]!;
    distance[order[0]!] = Infinity;
    distance[order[m - 1]!] = Infinity;
    if (hi === lo) continue;
    for (let j = 1; j < m - 1; j++) {
      const prev = points[front[order[j - 1]!]!]![k]!;
      const next = points[front[order[j + 1]!]!]![k]!;
      distance[order[j]!]! += (next - prev) / (hi - lo);
    }
  }
  return distance;
}

/**
 * Exact hypervolume of 2-D points (both minimised) with respect to `reference`: the area dominated
 * by the points and bounded by the reference point. Points not strictly better than the reference
 * in both objectives add nothing. Sweep over the non-dominated points sorted by the first
 * objective: O(N log N).
 */
export function hypervolume2d(points: readonly Objectives[], reference: readonly [number, number]): number {
  checkFinite(points);
  const [rx, ry] = reference;
  const inside = points
    .filter((p) => {
      if (p.length !== 2) throw new RangeError(`hypervolume2d needs 2 objectives, got ${p.length}`);
      return p[0]! < rx && p[1]! < ry;
    })
    .map((p) => [p[0]!, p[1]!] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let area = 0;
  let bestY = ry;
  for (const [x, y] of inside) {
    if (y >= bestY) continue; // dominated (or equal) to a point with smaller x
    area += (rx - x) * (bestY - y);
    bestY = y;
  }
  return area;
}
