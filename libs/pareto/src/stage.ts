// The two objectives of each search stage (SM-NAS, section 3): accuracy (COCO AP, maximised)
// against latency measured on the target hardware (structural stage) or multiply-adds (modular
// stage), minimised. The one definition the controller's fronts, the suggestion services' rankings
// and the results' baseline comparison use.
import { common, type controller } from '@sm-nas/proto';

export interface StageObjectives {
  accuracy: number;
  cost: number;
}

/** The stage's objectives of an evaluated candidate, or undefined when it lacks a measurement. */
export function stageObjectives(candidate: controller.Candidate, stage: common.SearchStage): StageObjectives | undefined {
  const m = candidate.metrics;
  if (!m?.accuracy) return undefined;
  // Multiply-adds are a uint64 on the wire, a number here (past 2^53 only less precise).
  const cost = stage === common.SearchStage.SEARCH_STAGE_MODULAR ? Number(m.flopsMultiplyAdds) : m.latency?.latencyMsP50;
  if (cost === undefined || !Number.isFinite(cost) || cost <= 0) return undefined;
  return { accuracy: m.accuracy.ap, cost };
}

/** As this library's functions want them: every objective minimised (cost, then accuracy negated). */
export function minimised(o: StageObjectives): [number, number] {
  return [o.cost, -o.accuracy];
}
