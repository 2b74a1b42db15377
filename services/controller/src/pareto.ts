// The two objectives of each stage (SM-NAS, section 3): accuracy (COCO AP, maximised) against
// latency measured on the target hardware (structural stage) or multiply-adds (modular stage),
// minimised; and the front of a set of evaluated candidates.
// PROVISIONAL: the non-dominated filter and hypervolume move to libs/pareto when it lands (the
// suggestion helper owns it); this file keeps only the objective definitions then.
import { common, type controller } from '@sm-nas/proto';

export interface Objectives {
  accuracy: number;
  cost: number;
}

/** The stage's objectives of an evaluated candidate, or undefined if it lacks a measurement. */
export function objectivesOf(candidate: controller.Candidate, stage: common.SearchStage): Objectives | undefined {
  const m = candidate.metrics;
  if (!m?.accuracy) return undefined;
  const cost = stage === common.SearchStage.SEARCH_STAGE_MODULAR ? m.flopsMultiplyAdds : m.latency?.latencyMsP50;
  if (cost === undefined || !Number.isFinite(cost) || cost <= 0) return undefined;
  return { accuracy: m.accuracy.ap, cost };
}

/** a dominates b: no worse in both objectives, better in one. */
export function dominates(a: Objectives, b: Objectives): boolean {
  return a.accuracy >= b.accuracy && a.cost <= b.cost && (a.accuracy > b.accuracy || a.cost < b.cost);
}

/**
 * The non-dominated candidates, sorted by cost, and the area they dominate above accuracy 0 and
 * below the largest cost among all the given candidates (the reference point), in AP x cost units.
 */
export function paretoFront(candidates: readonly controller.Candidate[], stage: common.SearchStage): {
  members: controller.Candidate[];
  hypervolume: number;
} {
  const scored = candidates
    .map((c) => ({ c, o: objectivesOf(c, stage) }))
    .filter((x): x is { c: controller.Candidate; o: Objectives } => x.o !== undefined);
  const members = scored.filter((x) => !scored.some((y) => y !== x && dominates(y.o, x.o)));
  // Equal objectives: keep the first proposed only.
  const unique = members.filter((x, i) => members.findIndex((y) => y.o.accuracy === x.o.accuracy && y.o.cost === x.o.cost) === i);
  unique.sort((a, b) => a.o.cost - b.o.cost);
  const refCost = Math.max(0, ...scored.map((x) => x.o.cost));
  let hypervolume = 0;
  // Sorted by increasing cost, the front's accuracy increases; sweep from the cheapest.
  for (const [i, x] of unique.entries()) {
    const nextCost = unique[i + 1]?.o.cost ?? refCost;
    hypervolume += Math.max(0, x.o.accuracy) * (nextCost - x.o.cost);
  }
  return { members: unique.map((x) => x.c), hypervolume };
}
