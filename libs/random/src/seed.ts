// Seeds: what a seed may be, and how one seed becomes another (folded to 32 bits, or derived for a
// named sub-stream). Every generator in the workspace takes its seed through these rules, so one
// seed means the same thing to the search space, the controller, the trainer and the datasets.

/** The largest seed: the wire's seeds are uint64. */
export const MAX_SEED = (1n << 64n) - 1n;

/** A seed as callers hold it: a bigint 0..2^64-1, or a number 0..2^53 (where numbers are exact). */
export type Seed = bigint | number;

/**
 * A seed outside 0..2^64-1. `field` names where it came from; the message is `<field>: <reason>`,
 * so a service can turn it into INVALID_ARGUMENT naming the request field.
 */
export class SeedError extends RangeError {
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'SeedError';
    this.field = field;
    this.reason = reason;
  }
}

/**
 * The seed as a bigint; throws SeedError naming `field` unless it is an integer 0..2^64-1. A number
 * above 2^53 is refused: it no longer says which integer it means.
 */
export function checkSeed(seed: unknown, field = 'seed'): bigint {
  if (typeof seed === 'bigint' && seed >= 0n && seed <= MAX_SEED) return seed;
  if (typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 53) return BigInt(seed);
  throw new SeedError(field, `expected an integer from 0 to 2^64-1 (a number only up to 2^53), got ${String(seed)}`);
}

/** murmur3's fmix32: a bijective 32-bit avalanche mix (fmix32(0) = 0). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A uint64 seed folded into 32 bits, for consumers with 32-bit seeds (the trainer's dataset and
 * weights, the controller's per-request seeds): low word XOR fmix32(high word). A seed below 2^32
 * is its own fold (what those consumers drew before seeds were 64-bit); seeds that differ only in
 * their low word, or only in their high word (2^64-1 and 2^53-1, say), never share a fold. No map
 * onto 2^32 values can keep all 2^64 seeds apart: other pairs collide with chance 2^-32.
 */
export function foldSeed32(seed: Seed): number {
  const s = checkSeed(seed);
  const low = Number(s & 0xffffffffn);
  const high = Number(s >> 32n);
  return (low ^ fmix32(high)) >>> 0;
}

/** FNV-1a of a string label, so streams can be named ('train', 'val', 'shuffle'). */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A 32-bit child seed for stream `label` of a 32-bit `seed`: fmix32(seed ⊕ fmix32(label +
 * golden-ratio constant)). Numbers label streams by index (image 17), strings by name ('train'), so
 * a stream never depends on how many others were drawn before it.
 */
export function deriveSeed(seed: number, label: number | string): number {
  const l = typeof label === 'string' ? hashLabel(label) : label >>> 0;
  return fmix32((seed >>> 0) ^ fmix32((l + 0x9e3779b9) >>> 0));
}

const MASK64 = (1n << 64n) - 1n;

/** The splitmix64 sequence from `seed` (https://prng.di.unimi.it/splitmix64.c), as 64-bit bigints. */
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
