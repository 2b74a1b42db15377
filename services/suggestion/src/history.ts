// What an algorithm needs from a request's history: every architecture id already proposed (to
// de-duplicate), and the evaluated individuals of the stage with their objectives, both minimised
// (libs/pareto's stage.ts): structural [latency p50 in ms, -AP], modular [multiply-adds, -AP]. In
// the modular stage the structural Pareto models that seed it (stage_seeds) are individuals too:
// they have AP and FLOPs.
import { architectureFromWire, describedToWire, stageToWire, withFieldPrefix } from '@sm-nas/arch/wire';
import { minimised, stageObjectives } from '@sm-nas/pareto/stage';
import { structureKey, validateArchitecture, type Architecture, type SearchStage } from '@sm-nas/arch';
import { common, controller } from '@sm-nas/proto';
import { InvalidArgumentError } from '@sm-nas/service-kit';

export interface Individual {
  /** The history candidate's id (empty for a stage seed absent from the history). */
  candidateId: string;
  described: common.DescribedArchitecture;
  /** Minimised objectives, see the module comment. */
  objectives: [number, number];
  /** Same key, same structure (the modular stage refines a structure's modules). */
  structureKey: string;
}

export interface StageHistory {
  /** Ids of every architecture in the history (any stage, any state) and of the stage seeds. */
  seen: Set<string>;
  /** Evaluated (SUCCEEDED, with the stage's metrics) individuals of the stage, in history order; modular: seeds first. */
  evaluated: Individual[];
  /** Candidates of this stage in the history, whatever their state (plus the seeds in the modular stage). */
  stageCount: number;
  /** Modular stage: the structures to refine, from stage_seeds (empty in the structural stage). */
  seeds: common.DescribedArchitecture[];
  /** Per seed, its candidate id in the history (its architecture id if it was never evaluated here). */
  seedParents: string[];
}

/** `structureKey` of an architecture on the wire (one that already passed validation). */
export function structureKeyOfDescribed(d: common.DescribedArchitecture): string {
  return structureKey(validateArchitecture(architectureFromWire(d.architecture), { space: 'any' }));
}

function describe(wire: common.Architecture | undefined, field: string): { described: common.DescribedArchitecture; arch: Architecture } {
  const arch = withFieldPrefix(field, () => validateArchitecture(architectureFromWire(wire), { space: 'any' }));
  return { described: describedToWire(arch), arch };
}

/**
 * The stage's objectives of a succeeded candidate, or undefined when a metric is absent (proto3:
 * no accuracy message, no latency message or a zero p50, zero multiply-adds): such a candidate is
 * still de-duplicated against, but cannot be ranked. A present but impossible value (an AP
 * outside [0, 1], a negative or non-finite latency) is INVALID_ARGUMENT naming the field.
 */
function objectivesOf(c: controller.Candidate, stage: SearchStage, field: string): [number, number] | undefined {
  const m = c.metrics;
  if (!m?.accuracy) return undefined;
  const ap = m.accuracy.ap;
  if (!Number.isFinite(ap) || ap < 0 || ap > 1) {
    throw new InvalidArgumentError(`${field}.metrics.accuracy.ap`, `a succeeded candidate needs an AP in [0, 1], got ${ap}`);
  }
  if (stage === 'structural') {
    const ms = m.latency?.latencyMsP50 ?? 0;
    if (!Number.isFinite(ms) || ms < 0) {
      throw new InvalidArgumentError(`${field}.metrics.latency.latency_ms_p50`, `expected a positive latency, got ${ms}`);
    }
  } else {
    // A uint64 on the wire; a number here (a count past 2^53 only loses precision, never fails).
    const flops = Number(m.flopsMultiplyAdds);
    if (!Number.isFinite(flops) || flops < 0) {
      throw new InvalidArgumentError(`${field}.metrics.flops_multiply_adds`, `expected a positive count, got ${flops}`);
    }
  }
  // Checked: the values are the stage's objectives as everything else ranks them.
  const objectives = stageObjectives(c, stageToWire(stage));
  return objectives ? minimised(objectives) : undefined;
}

export function readHistory(
  stage: SearchStage,
  history: readonly controller.Candidate[],
  stageSeeds: readonly common.DescribedArchitecture[],
): StageHistory {
  const wireStage = stage === 'structural' ? common.SearchStage.SEARCH_STAGE_STRUCTURAL : common.SearchStage.SEARCH_STAGE_MODULAR;
  const seen = new Set<string>();
  const evaluated: Individual[] = [];
  let stageCount = 0;
  const byId = new Map<string, { candidate: controller.Candidate; index: number }>();
  for (const [i, c] of history.entries()) {
    const field = `history[${i}]`;
    const { described, arch } = describe(c.architecture?.architecture, `${field}.architecture.architecture`);
    seen.add(described.id);
    if (c.state === controller.CandidateState.CANDIDATE_STATE_SUCCEEDED) byId.set(described.id, { candidate: c, index: i });
    if (c.stage !== wireStage) continue;
    stageCount++;
    if (c.state !== controller.CandidateState.CANDIDATE_STATE_SUCCEEDED) continue;
    const objectives = objectivesOf(c, stage, field);
    if (objectives) evaluated.push({ candidateId: c.candidateId, described, objectives, structureKey: structureKey(arch) });
  }
  const seeds: common.DescribedArchitecture[] = [];
  const seedParents: string[] = [];
  if (stage === 'modular') {
    if (stageSeeds.length === 0) throw new InvalidArgumentError('stage_seeds', 'the modular stage needs at least one structural model to refine');
    const seedIndividuals: Individual[] = [];
    for (const [i, s] of stageSeeds.entries()) {
      const field = `stage_seeds[${i}].architecture`;
      const { described, arch } = describe(s.architecture, field);
      withFieldPrefix(field, () => validateArchitecture(arch, { space: 'modular' }));
      if (seeds.some((x) => x.id === described.id)) throw new InvalidArgumentError(field, `repeats stage seed ${described.id}`);
      seeds.push(described);
      stageCount++;
      const inHistory = byId.get(described.id);
      seedParents.push(inHistory?.candidate.candidateId || described.id);
      // A seed evaluated in the structural stage has AP and multiply-adds: a modular individual.
      const objectives = inHistory && inHistory.candidate.stage !== wireStage ? objectivesOf(inHistory.candidate, 'modular', `history[${inHistory.index}]`) : undefined;
      if (inHistory && objectives) {
        seedIndividuals.push({ candidateId: inHistory.candidate.candidateId, described, objectives, structureKey: structureKey(arch) });
      }
      seen.add(described.id);
    }
    evaluated.unshift(...seedIndividuals);
  }
  return { seen, evaluated, stageCount, seeds, seedParents };
}
