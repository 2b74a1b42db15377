// The front of a set of evaluated candidates in a stage's objectives (libs/pareto's stage.ts),
// computed by libs/pareto (the same dominance and hypervolume the suggestion services and the
// benchmark use).
import { hypervolume2d, paretoFront as frontIndices } from '@sm-nas/pareto';
import { minimised, stageObjectives, type StageObjectives } from '@sm-nas/pareto/stage';
import type { common, controller } from '@sm-nas/proto';

export type Objectives = StageObjectives;
export const objectivesOf = stageObjectives;

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
