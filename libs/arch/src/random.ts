// A seeded PRNG, so that Sample/Mutate/Crossover with the same seed return the same answer on any
// machine and in any language (Math.random cannot be seeded; a search must be replayable).
//
// Generator: xoshiro128** 1.1 (Blackman and Vigna, https://prng.di.unimi.it/xoshiro128starstar.c),
// 32-bit state words, fast with Math.imul and good enough for sampling (not for cryptography).
// Seeding: the seed, a uint64 (0..2^64-1, every value the wire carries), goes whole through
// splitmix64 (https://prng.di.unimi.it/splitmix64.c); its first two 64-bit outputs, each split into
// low then high 32 bits, are the four state words s0..s3. splitmix64's first output is a bijection of
// its seed, so two distinct seeds always start from distinct states (2^64-1 and 2^53-1 included),
// and a seed below 2^53 gives the same draws as before seeds were 64-bit. Bounded integers use
// rejection (no modulo bias).

import { ArchValidationError } from './errors.js';

/** The largest seed: the wire's seeds are uint64. */
export const MAX_SEED = (1n << 64n) - 1n;

/** A seed as callers hold it: a bigint 0..2^64-1, or a number 0..2^53 (where numbers are exact). */
export type Seed = bigint | number;

/**
 * The seed as a bigint; throws ArchValidationError naming `field` unless it is an integer
 * 0..2^64-1. A number above 2^53 is refused: it no longer says which integer it means.
 */
export function checkSeed(seed: unknown, field = 'seed'): bigint {
  if (typeof seed === 'bigint' && seed >= 0n && seed <= MAX_SEED) return seed;
  if (typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 53) return BigInt(seed);
  throw new ArchValidationError(field, `expected an integer from 0 to 2^64-1 (a number only up to 2^53), got ${String(seed)}`);
}

const MASK64 = (1n << 64n) - 1n;

/** murmur3's fmix32: a bijective 32-bit avalanche mix (fmix32(0) = 0). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A uint64 seed folded into 32 bits, for generators with 32-bit state (the trainer's dataset and
 * weights, the controller's per-request seeds): low word XOR fmix32(high word). A seed below 2^32
 * is its own fold (what those generators drew before seeds were 64-bit); seeds that differ only in
 * their low word, or only in their high word (2^64-1 and 2^53-1, say), never share a fold. No map
 * onto 2^32 values can keep all 2^64 seeds apart: other pairs collide with chance 2^-32.
 */
export function foldSeed32(seed: Seed): number {
  const s = checkSeed(seed);
  const low = Number(s & 0xffffffffn);
  const high = Number(s >> 32n);
  return (low ^ fmix32(high)) >>> 0;
}

/** The splitmix64 sequence from `seed`, as 64-bit bigints (only used for seeding). */
export function* splitmix64(seed: bigint): Generator<bigint> {
  let state = seed & MASK64;
  for (;;) {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    yield z ^ (z >> 31n);
  }
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: Seed) {
    const sm = splitmix64(checkSeed(seed));
    const a = sm.next().value as bigint;
    const b = sm.next().value as bigint;
    this.s0 = Number(a & 0xffffffffn);
    this.s1 = Number(a >> 32n);
    this.s2 = Number(b & 0xffffffffn);
    this.s3 = Number(b >> 32n);
  }

  /** A generator with the given state words (for checking against the reference C code). */
  static fromState(state: readonly [number, number, number, number]): Rng {
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = state.map((x) => x >>> 0) as [number, number, number, number];
    return r;
  }

  /** Next 32-bit output, 0..2^32-1. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), for 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`);
    // Reject the top partial block of outputs so every residue is equally likely.
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextUint32();
    while (x >= limit);
    return x % n;
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.float() < p;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
