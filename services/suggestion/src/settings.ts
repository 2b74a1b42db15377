// The algorithms this package serves and the settings each accepts (SearchSpec.algorithm.settings,
// a string map). Parsed once per request; anything unknown or out of range is INVALID_ARGUMENT
// naming the field (`spec.algorithm.settings.mutation_rate`), so ValidateSettings can refuse a
// search before it starts and GetSuggestions never runs on settings it does not understand.
import type { controller } from '@sm-nas/proto';
import { InvalidArgumentError } from '@sm-nas/service-kit';

export const ALGORITHMS = ['evolution', 'nsga2', 'random'] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

export function isAlgorithmName(name: string): name is AlgorithmName {
  return (ALGORITHMS as readonly string[]).includes(name);
}

/** Population kept between generations when StageSpec.population_size is 0. */
export const DEFAULT_POPULATION_SIZE = 8;
export const MIN_POPULATION_SIZE = 2;
export const MAX_POPULATION_SIZE = 1000;

export interface AlgorithmSettings {
  algorithm: AlgorithmName;
  /**
   * Probability that a child starts as the crossover of two parents (otherwise as a copy of one
   * parent, which is then always mutated: a copy would be a duplicate).
   */
  crossoverRate: number;
  /** Probability that a crossover child is also mutated. */
  mutationRate: number;
  populationSize: { structural: number; modular: number };
}

interface RateSetting {
  key: 'crossover_rate' | 'mutation_rate';
  description: string;
}

const RATE_SETTINGS: readonly RateSetting[] = [
  { key: 'crossover_rate', description: 'probability that a child is a crossover of two parents, 0..1' },
  { key: 'mutation_rate', description: 'probability that a crossover child is also mutated, 0..1' },
];

/**
 * Defaults. NSGA-II: Deb et al. 2002 use crossover probability 0.9. Evolution (SM-NAS): the paper
 * generates children "by mutation and crossover" without giving rates; 0.2 is the best of a sweep
 * (0, 0.2, 0.5, 0.8) on bench/suggestion-hypervolume.ts's table (see bench/RESULTS.md): mostly
 * one-gene mutations of front models, which spread the front better than mixing them.
 */
const DEFAULT_RATES: Record<Exclude<AlgorithmName, 'random'>, { crossover_rate: number; mutation_rate: number }> = {
  evolution: { crossover_rate: 0.2, mutation_rate: 0.5 },
  nsga2: { crossover_rate: 0.9, mutation_rate: 0.5 },
};

/** The settings keys an algorithm accepts, with what they mean (for error messages and docs). */
export function knownSettings(algorithm: AlgorithmName): readonly RateSetting[] {
  return algorithm === 'random' ? [] : RATE_SETTINGS;
}

function parseRate(value: string, field: string): number {
  const x = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(x) || x < 0 || x > 1) throw new InvalidArgumentError(field, `expected a number from 0 to 1, got ${JSON.stringify(value)}`);
  return x;
}

function populationSize(stage: controller.StageSpec | undefined, field: string): number {
  const size = stage?.populationSize ?? 0;
  if (size === 0) return DEFAULT_POPULATION_SIZE;
  if (size < MIN_POPULATION_SIZE || size > MAX_POPULATION_SIZE) {
    throw new InvalidArgumentError(`${field}.population_size`, `expected ${MIN_POPULATION_SIZE} to ${MAX_POPULATION_SIZE} (0 for ${DEFAULT_POPULATION_SIZE}), got ${size}`);
  }
  return size;
}

/**
 * Checks `spec` for a service running the algorithms `served` (one, or all for the mesh's default
 * service) and returns the settings of the algorithm it names, with defaults applied. `field` is
 * where the spec sits in the request.
 */
export function parseSettings(served: readonly AlgorithmName[], spec: controller.SearchSpec | undefined, field = 'spec'): AlgorithmSettings {
  if (!spec) throw new InvalidArgumentError(field, 'required');
  const name = spec.algorithm?.name ?? '';
  const runs = served.length === 1 ? `this service runs "${served[0]}"` : `this service runs ${served.map((a) => `"${a}"`).join(', ')}`;
  if (!(served as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(`${field}.algorithm.name`, name === '' ? `required (${runs})` : `${runs}, not "${name}"`);
  }
  const algorithm = name as AlgorithmName;
  const settings = spec.algorithm?.settings ?? {};
  const known = knownSettings(algorithm);
  for (const key of Object.keys(settings).sort()) {
    if (!known.some((s) => s.key === key)) {
      const list = known.length === 0 ? 'it takes none' : `known: ${known.map((s) => s.key).join(', ')}`;
      throw new InvalidArgumentError(`${field}.algorithm.settings.${key}`, `unknown setting for ${algorithm} (${list})`);
    }
  }
  if (algorithm === 'random') {
    // Random search keeps no population; the stage sizes are the controller's business.
    return { algorithm, crossoverRate: 0, mutationRate: 0, populationSize: { structural: 0, modular: 0 } };
  }
  const defaults = DEFAULT_RATES[algorithm];
  const rate = (key: RateSetting['key']): number => {
    const raw = settings[key];
    return raw === undefined ? defaults[key] : parseRate(raw, `${field}.algorithm.settings.${key}`);
  };
  return {
    algorithm,
    crossoverRate: rate('crossover_rate'),
    mutationRate: rate('mutation_rate'),
    populationSize: {
      structural: populationSize(spec.structural, `${field}.structural`),
      modular: populationSize(spec.modular, `${field}.modular`),
    },
  };
}
