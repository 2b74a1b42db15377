// CreateSearch's checks: every unusable field is an INVALID_ARGUMENT naming it (`spec.fidelity...`),
// and the algorithm's settings are checked by its suggestion service's ValidateSettings before the
// search exists, so a bad search fails at creation, not an hour in.
import { validateArchitecture } from '@sm-nas/arch';
import { architectureFromWire, withFieldPrefix } from '@sm-nas/arch/wire';
import { checkProfileSettings } from '@sm-nas/profiler/settings';
import { common, controller, trainer } from '@sm-nas/proto';
import { checkInputSize, checkLimit, DEFAULT_LIMITS, DomainError, InvalidArgumentError, isAbortError, LIMIT_ENV, type Limits } from '@sm-nas/service-kit';

/** How long CreateSearch waits for the suggestion service to check the settings. */
const VALIDATE_SETTINGS_TIMEOUT_MS = 15_000;
import { ClientError, Status } from 'nice-grpc';
import type { ServiceClients } from './clients.js';

export const SEARCH_ID = /^[a-z][a-z0-9-]{0,62}$/;
const MAX_CANDIDATES = 100_000;
const MAX_PARALLELISM = 256;
/** A display name is for lists and dashboards. */
const MAX_DISPLAY_NAME_CHARS = 256;
/** Any other string of a spec: a path, an address, a class or algorithm name. */
const MAX_STRING_CHARS = 4096;
/** What a journal entry holds beside the spec (its envelope, the search id, the reason). */
const JOURNAL_ENVELOPE_BYTES = 1024;

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Every string in a decoded message, with its field path as the .proto names it (`spec.dataset.coco.root`). */
function* stringsOf(value: unknown, path: string): Generator<[string, string]> {
  if (typeof value === 'string') {
    yield [path, value];
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* stringsOf(v, `${path}[${i}]`);
  } else if (value && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    const o = value as Record<string, unknown>;
    if (typeof o['$case'] === 'string') {
      yield* stringsOf(o['value'], `${path}.${snake(o['$case'])}`);
      return;
    }
    for (const [k, v] of Object.entries(o)) yield* stringsOf(v, `${path}.${snake(k)}`);
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

/**
 * The spec travels in one journal message: it must fit nats-server's max_payload, or the search could
 * never be stored. Each string is bounded first (the field named); then the whole, naming the
 * largest field when it does not fit.
 */
export function checkSpecSize(spec: controller.SearchSpec, maxPayloadBytes: number): void {
  for (const [path, text] of stringsOf(spec, 'spec')) {
    const max = path === 'spec.display_name' ? MAX_DISPLAY_NAME_CHARS : MAX_STRING_CHARS;
    if (text.length > max) throw new InvalidArgumentError(path, `at most ${max} characters, got ${text.length}`);
  }
  const bytes = controller.SearchSpec.encode(spec).finish().byteLength;
  const room = maxPayloadBytes - JOURNAL_ENVELOPE_BYTES;
  if (bytes <= room) return;
  const sizes = Object.entries(spec).map(([key, value]) => [key, controller.SearchSpec.encode(controller.SearchSpec.fromPartial({ [key]: value })).finish().byteLength] as const);
  const [largest, largestBytes] = sizes.reduce((a, b) => (b[1] > a[1] ? b : a));
  throw new InvalidArgumentError(
    `spec.${snake(largest)}`,
    `${mib(largestBytes)} of a spec of ${mib(bytes)}; a spec must fit in ${mib(room)} (the search journal is a NATS stream, max_payload ${mib(maxPayloadBytes)})`,
  );
}

function known(value: number, names: Record<number, string>, field: string): void {
  if (!(value in names) || value <= 0) throw new InvalidArgumentError(field, `unknown or unspecified value ${value}`);
}

/** The operator's limits CreateSearch enforces (SM_NAS_MAX_*, libs/service-kit limits.ts). */
export type SearchLimits = Pick<Limits, 'maxPopulation' | 'maxInputSidePx' | 'maxConcurrentSearches'>;

export async function validateSpec(
  spec: controller.SearchSpec | undefined,
  clients: ServiceClients,
  limits: SearchLimits = DEFAULT_LIMITS,
  maxPayloadBytes = DEFAULT_LIMITS.maxMessageBytes,
): Promise<controller.SearchSpec> {
  if (!spec) throw new InvalidArgumentError('spec', 'required');
  checkSpecSize(spec, maxPayloadBytes);
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
  if (spec.profiling) checkProfileSettings(spec.profiling, 'spec.profiling');
  const f = spec.fidelity;
  if (!f || (f.maxSteps === 0 && f.maxSeconds === 0)) {
    throw new InvalidArgumentError('spec.fidelity.max_steps', 'set fidelity.max_steps or fidelity.max_seconds: every candidate needs a training budget');
  }
  checkFidelityNumbers(f, 'spec.fidelity');
  if (spec.schedule && spec.schedule.init === trainer.InitMode.INIT_MODE_PRETRAINED && !spec.schedule.pretrainedWeightsPath) {
    throw new InvalidArgumentError('spec.schedule.pretrained_weights_path', 'required when schedule.init is INIT_MODE_PRETRAINED');
  }
  if (spec.earlyStopping?.medianStopping && !(spec.schedule?.evalEverySteps ?? 0)) {
    throw new InvalidArgumentError('spec.schedule.eval_every_steps', 'median early stopping compares validation AP during training: set eval_every_steps > 0');
  }
  checkSuccessiveHalving(spec);
  if (spec.finalTraining?.enabled) checkFinalTraining(spec.finalTraining);
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
  const timeout = AbortSignal.timeout(VALIDATE_SETTINGS_TIMEOUT_MS);
  try {
    // Idempotent: the client retries it while the service is away, for a creation's patience.
    // The whole call, connection attempts included, is bounded: a suggestion address that refuses
    // connections must not hold CreateSearch past its caller's deadline.
    await client.validateSettings({ spec }, { retryMaxMs: 10_000, signal: timeout });
  } catch (err) {
    if (timeout.aborted || isAbortError(err)) throw new DomainError('UNAVAILABLE', `suggestion service for ${spec.algorithm.name} at ${JSON.stringify(spec.algorithm.suggestionAddress || 'the default address')}: no answer within ${VALIDATE_SETTINGS_TIMEOUT_MS / 1000} s`);
    if (err instanceof ClientError && err.code === Status.INVALID_ARGUMENT) {
      // The suggestion service names fields of its request (`spec.modular.population_size`), which is
      // this request's spec too; a reply that names none is about the settings.
      throw err.details.startsWith('spec.') ? new DomainError('INVALID_ARGUMENT', err.details) : new InvalidArgumentError('spec.algorithm.settings', err.details);
    }
    if (err instanceof ClientError) throw new DomainError('UNAVAILABLE', `suggestion service for ${spec.algorithm.name}: ${Status[err.code]}: ${err.details}`);
    throw err;
  }
  return spec;
}

function checkSuccessiveHalving(spec: controller.SearchSpec): void {
  const sh = spec.earlyStopping?.successiveHalving;
  if (!sh || (sh.minSteps === 0 && sh.reductionFactor === 0)) return;
  const field = 'spec.early_stopping.successive_halving';
  if (spec.earlyStopping?.medianStopping) throw new InvalidArgumentError(`${field}`, 'at most one early-stopping rule: unset median_stopping or successive_halving');
  if (sh.minSteps === 0) throw new InvalidArgumentError(`${field}.min_steps`, 'the first rung\'s steps, > 0');
  if (sh.reductionFactor === 1) throw new InvalidArgumentError(`${field}.reduction_factor`, 'at least 2 (0 means 3)');
  const every = spec.schedule?.evalEverySteps ?? 0;
  if (every === 0 || sh.minSteps % every !== 0) {
    throw new InvalidArgumentError('spec.schedule.eval_every_steps', `successive halving reads validation AP at its rungs (multiples of min_steps ${sh.minSteps}): set eval_every_steps to a divisor of it, got ${every}`);
  }
  const maxSteps = spec.fidelity?.maxSteps ?? 0;
  if (maxSteps > 0 && sh.minSteps >= maxSteps) {
    throw new InvalidArgumentError(`${field}.min_steps`, `the first rung must come before the end of training (fidelity.max_steps ${maxSteps}), got ${sh.minSteps}`);
  }
}

function checkFinalTraining(final: controller.FinalTraining): void {
  if (final.fidelity) checkFidelityNumbers(final.fidelity, 'spec.final_training.fidelity');
  const s = final.schedule;
  if (s && s.init === trainer.InitMode.INIT_MODE_PRETRAINED && !s.pretrainedWeightsPath) {
    throw new InvalidArgumentError('spec.final_training.schedule.pretrained_weights_path', 'required when schedule.init is INIT_MODE_PRETRAINED');
  }
}

/** A fidelity's multipliers and seconds: finite and >= 0 (0 means the default). */
function checkFidelityNumbers(f: common.Fidelity, prefix: string): void {
  for (const [field, v] of [['input_scale', f.inputScale], ['width_multiplier', f.widthMultiplier], ['max_seconds', f.maxSeconds]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${prefix}.${field}`, `must be >= 0, got ${v}`);
  }
}
