/**
 * @sm-nas/random — the one seeded PRNG of the workspace, so a search, a dataset and a training run
 * are replayable from their seeds on any machine (Math.random cannot be seeded).
 *
 * - `Rng`: the generator (xoshiro128** seeded from a uint64; the built-in datasets' stream through
 *   `Rng.mulberry32`), with uniform floats, bounded integers, pick, shuffle, choose and a saveable
 *   `state`.
 * - `checkSeed`, `foldSeed32`, `deriveSeed`, `fmix32`, `splitmix64`: the one set of seed rules.
 */
export { MAX_SEED, SeedError, checkSeed, deriveSeed, fmix32, foldSeed32, splitmix64, type Seed } from './seed.js';
export { Rng, type RngState } from './rng.js';
