// CreateSearch's checks: every unusable field is an INVALID_ARGUMENT naming it (`spec.fidelity...`),
// and the algorithm's settings are checked by its suggestion service's ValidateSettings before the
// search exists, so a bad search fails at creation, not an hour in.
import { validateArchitecture } from '@sm-nas/arch';
import { architectureFromWire, withFieldPrefix } from '@sm-nas/arch/wire';
import type { controller} from '@sm-nas/proto';
import { common, trainer } from '@sm-nas/proto';
import { checkInputSize, checkLimit, DEFAULT_LIMITS, DomainError, InvalidArgumentError, LIMIT_ENV, type Limits } from '@sm-nas/service-kit';
import { ClientError, Status } from 'nice-grpc';
import { withRetry, type ServiceClients } from './clients.js';

export const SEARCH_ID = /^[a-z][a-z0-9-]{0,62}$/;
const MAX_CANDIDATES = 100_000;
const MAX_PARALLELISM = 256;

function known(value: number, names: Record<number, string>, field: string): void {
  if (!(value in names) || value <= 0) throw new InvalidArgumentError(field, `unknown or unspecified value ${value}`);
}

/** The operator's limits CreateSearch enforces (SM_NAS_MAX_*, libs/service-kit limits.ts). */
export type SearchLimits = Pick<Limits, 'maxPopulation' | 'maxInputSidePx' | 'maxConcurrentSearches'>;

export async function validateSpec(
  spec: controller.SearchSpec | undefined,
  clients: ServiceClients,
  limits: SearchLimits = DEFAULT_LIMITS,
): Promise<controller.SearchSpec> {
  if (!spec) throw new InvalidArgumentError('spec', 'required');
  checkLimit('spec.structural.population_size', spec.structural?.populationSize ?? 0, limits.maxPopulation, LIMIT_ENV.maxPopulation);
  checkLimit('spec.modular.population_size', spec.modular?.populationSize ?? 0, limits.maxPopulation, LIMIT_ENV.maxPopulation);
  spec.constraints?.inputs.forEach((s, i) => checkInputSize(`spec.constraints.inputs[${i}]`, { width: s.widthPx, height: s.heightPx }, limits));
  spec.initialArchitectures.forEach((a, i) => {
    if (a.input) checkInputSize(`spec.initial_architectures[${i}].input`, { width: a.input.widthPx, height: a.input.heightPx }, limits);
  });
  const structural = spec.structural?.maxCandidates ?? 0;
  const modular = spec.modular?.maxCandidates ?? 0;
  if (structural === 0 && modular === 0) {
    throw new InvalidArgumentError('spec.structural.max_candidates', 'no stage to run: set structural.max_candidates and/or modular.max_candidates');
  }
  if (structural === 0 && modular > 0) {
    throw new InvalidArgumentError('spec.structural.max_candidates', 'the modular stage searches around the structural Pareto models: the structural stage must run');
  }
  for (const [field, n] of [['spec.structural.max_candidates', structural], ['spec.modular.max_candidates', modular], ['spec.budget.max_candidates', spec.budget?.maxCandidates ?? 0]] as const) {
    if (n > MAX_CANDIDATES) throw new InvalidArgumentError(field, `at most ${MAX_CANDIDATES}, got ${n}`);
  }
  const wall = spec.budget?.maxWallSeconds ?? 0;
  if (!Number.isFinite(wall) || wall < 0) throw new InvalidArgumentError('spec.budget.max_wall_seconds', `must be >= 0, got ${wall}`);
  if (spec.parallelism > MAX_PARALLELISM) throw new InvalidArgumentError('spec.parallelism', `at most ${MAX_PARALLELISM}, got ${spec.parallelism}`);
  if (!spec.hardwareClass) throw new InvalidArgumentError('spec.hardware_class', 'required: the structural stage measures latency on this class (ProfilerService.Describe)');
  if (!/^[^\s*>]+$/.test(spec.hardwareClass)) throw new InvalidArgumentError('spec.hardware_class', `not a hardware-class id: ${JSON.stringify(spec.hardwareClass)}`);
  if (!spec.dataset?.source) throw new InvalidArgumentError('spec.dataset', 'required: set dataset.builtin or dataset.coco');
  const f = spec.fidelity;
  if (!f || (f.maxSteps === 0 && f.maxSeconds === 0)) {
    throw new InvalidArgumentError('spec.fidelity.max_steps', 'set fidelity.max_steps or fidelity.max_seconds: every candidate needs a training budget');
  }
  for (const [field, v] of [['spec.fidelity.input_scale', f.inputScale], ['spec.fidelity.width_multiplier', f.widthMultiplier], ['spec.fidelity.max_seconds', f.maxSeconds]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new InvalidArgumentError(field, `must be >= 0, got ${v}`);
  }
  if (spec.schedule && spec.schedule.init === trainer.InitMode.INIT_MODE_PRETRAINED && !spec.schedule.pretrainedWeightsPath) {
    throw new InvalidArgumentError('spec.schedule.pretrained_weights_path', 'required when schedule.init is INIT_MODE_PRETRAINED');
  }
  if (spec.earlyStopping?.medianStopping && !(spec.schedule?.evalEverySteps ?? 0)) {
    throw new InvalidArgumentError('spec.schedule.eval_every_steps', 'median early stopping compares validation AP during training: set eval_every_steps > 0');
  }
  const c = spec.constraints;
  c?.backbones.forEach((k, i) => known(k, common.BackboneKind, `spec.constraints.backbones[${i}]`));
  c?.heads.forEach((k, i) => known(k, common.HeadKind, `spec.constraints.heads[${i}]`));
  c?.necks.forEach((k, i) => known(k, common.NeckKind, `spec.constraints.necks[${i}]`));
  c?.fpnStartLevels.forEach((l, i) => {
    if (l < 1 || l > 5) throw new InvalidArgumentError(`spec.constraints.fpn_start_levels[${i}]`, `an FPN starts at P1..P5, got ${l}`);
  });
  c?.inputs.forEach((s, i) => {
    if (s.widthPx < 32 || s.heightPx < 32) throw new InvalidArgumentError(`spec.constraints.inputs[${i}]`, `at least 32x32, got ${s.widthPx}x${s.heightPx}`);
  });
  spec.initialArchitectures.forEach((a, i) =>
    withFieldPrefix(`spec.initial_architectures[${i}]`, () => validateArchitecture(architectureFromWire(a))),
  );
  if (!spec.algorithm?.name) throw new InvalidArgumentError('spec.algorithm.name', 'required, e.g. "evolution", "nsga2" or "random"');
  let client;
  try {
    client = clients.suggestion(spec.algorithm.suggestionAddress);
  } catch (err) {
    throw new InvalidArgumentError('spec.algorithm.suggestion_address', err instanceof Error ? err.message : String(err));
  }
  try {
    await withRetry(() => client.validateSettings({ spec }), { maxMs: 10_000 });
  } catch (err) {
    if (err instanceof ClientError && err.code === Status.INVALID_ARGUMENT) {
      throw new InvalidArgumentError('spec.algorithm.settings', err.details);
    }
    if (err instanceof ClientError) throw new DomainError('UNAVAILABLE', `suggestion service for ${spec.algorithm.name}: ${Status[err.code]}: ${err.details}`);
    throw err;
  }
  return spec;
}
