// The search space's seeded draws: Sample/Mutate/Crossover with the same seed return the same answer
// on any machine and in any language. The generator and the seed rules are @sm-nas/random's; this
// module only turns a bad seed into the ArchValidationError the services map to INVALID_ARGUMENT.

import { SeedError, checkSeed as checkAnySeed, foldSeed32 as foldAnySeed32, type Seed } from '@sm-nas/random';
import { ArchValidationError } from './errors.js';

export { MAX_SEED, Rng, splitmix64, type RngState, type Seed } from '@sm-nas/random';

/**
 * The seed as a bigint; throws ArchValidationError naming `field` unless it is an integer
 * 0..2^64-1. A number above 2^53 is refused: it no longer says which integer it means.
 */
export function checkSeed(seed: unknown, field = 'seed'): bigint {
  try {
    return checkAnySeed(seed, field);
  } catch (err) {
    if (err instanceof SeedError) throw new ArchValidationError(err.field, err.reason);
    throw err;
  }
}

/** @sm-nas/random's foldSeed32, throwing ArchValidationError for a bad seed. */
export function foldSeed32(seed: Seed): number {
  return foldAnySeed32(checkSeed(seed));
}
