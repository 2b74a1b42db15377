// Builders of requests for tests (this package's, tests/, and the controller's): a search spec
// naming an algorithm, and history candidates with metrics.
import type { common} from '@sm-nas/proto';
import { controller } from '@sm-nas/proto';

export function searchSpec(
  algorithm: string,
  options: { settings?: Record<string, string>; structural?: Partial<controller.StageSpec>; modular?: Partial<controller.StageSpec> } = {},
): controller.SearchSpec {
  return controller.SearchSpec.fromPartial({
    displayName: 'test',
    algorithm: { name: algorithm, suggestionAddress: '', settings: options.settings ?? {} },
    structural: { maxCandidates: 40, populationSize: 6, paretoModels: 0, ...options.structural },
    modular: { maxCandidates: 20, populationSize: 4, paretoModels: 0, ...options.modular },
    seed: 1,
  });
}

export interface CandidateMetricsInput {
  ap: number;
  latencyMs?: number;
  flops?: number;
}

/** A SUCCEEDED candidate of `stage` with AP and latency and/or multiply-adds. */
export function evaluatedCandidate(
  id: string,
  stage: common.SearchStage,
  architecture: common.DescribedArchitecture,
  metrics: CandidateMetricsInput,
): controller.Candidate {
  return controller.Candidate.fromPartial({
    candidateId: id,
    searchId: 'test',
    stage,
    architecture,
    state: controller.CandidateState.CANDIDATE_STATE_SUCCEEDED,
    origin: 'sample',
    metrics: {
      accuracy: { ap: metrics.ap },
      latency: metrics.latencyMs === undefined ? undefined : { latencyMsP50: metrics.latencyMs },
      flopsMultiplyAdds: metrics.flops ?? 0,
    },
  });
}
