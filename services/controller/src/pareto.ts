// The two objectives of each stage (SM-NAS, section 3): accuracy (COCO AP, maximised) against
// latency measured on the target hardware (structural stage) or multiply-adds (modular stage),
// minimised; and the front of a set of evaluated candidates, computed by libs/pareto (the same
// dominance and hypervolume the suggestion services and the benchmark use).
import { hypervolume2d, paretoFront as frontIndices } from '@sm-nas/pareto';
import { common, type controller } from '@sm-nas/proto';

export interface Objectives {
  accuracy: number;
  cost: number;
}

/** The stage's objectives of an evaluated candidate, or undefined if it lacks a measurement. */
export function objectivesOf(candidate: controller.Candidate, stage: common.SearchStage): Objectives | undefined {
  const m = candidate.metrics;
  if (!m?.accuracy) return undefined;
  // Multiply-adds are a uint64 on the wire, a number here (past 2^53 only less precise).
  const cost = stage === common.SearchStage.SEARCH_STAGE_MODULAR ? Number(m.flopsMultiplyAdds) : m.latency?.latencyMsP50;
  if (cost === undefined || !Number.isFinite(cost) || cost <= 0) return undefined;
  return { accuracy: m.accuracy.ap, cost };
}

/** As libs/pareto wants them: every objective minimised (cost, then accuracy negated). */
const minimised = (o: Objectives): [number, number] => [o.cost, -o.accuracy];

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
  const points = scored.map((x) => minimised(x.o));
  const members = frontIndices(points).map((i) => scored[i]!);
  // Equal objectives: keep the first proposed only.
  const unique = members.filter((x, i) => members.findIndex((y) => y.o.accuracy === x.o.accuracy && y.o.cost === x.o.cost) === i);
  unique.sort((a, b) => a.o.cost - b.o.cost);
  const refCost = Math.max(0, ...scored.map((x) => x.o.cost));
  return { members: unique.map((x) => x.c), hypervolume: hypervolume2d(unique.map((x) => minimised(x.o)), [refCost, 0]) };
}
