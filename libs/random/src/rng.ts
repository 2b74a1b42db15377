// The workspace's one seeded generator.
//
// Core: xoshiro128** 1.1 (Blackman and Vigna, https://prng.di.unimi.it/xoshiro128starstar.c),
// 32-bit state words, fast with Math.imul and good enough for sampling (not for cryptography).
// Seeding: the seed, a uint64 (0..2^64-1, every value the wire carries), goes whole through
// splitmix64; its first two 64-bit outputs, each split into low then high 32 bits, are the four
// state words s0..s3. splitmix64's first output is a bijection of its seed, so two distinct seeds
// always start from distinct states (2^64-1 and 2^53-1 included), and a seed below 2^53 gives the
// same draws as before seeds were 64-bit. Bounded integers use rejection (no modulo bias).
//
// The data pipeline (libs/data: shapes images, batch order, augmentation) takes a second seed path,
// `Rng.mulberry32`: the stream it has always drawn from (mulberry32, Tommy Ettinger, public domain;
// bounded integers scale a float). The images and batches are part of every search result and
// benchmark figure measured on them, so that path reproduces them bit for bit rather than moving
// them onto the xoshiro stream. Nothing else should use it.

import { checkSeed, splitmix64, type Seed } from './seed.js';

/** A generator's position: four uint32 words (`Rng.mulberry32` streams use the first, the rest 0). */
export type RngState = readonly [number, number, number, number];

const TWO_32 = 4294967296;

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** True for the datasets' seed path (`Rng.mulberry32`); set only there, at construction. */
  private datasetV1 = false;

  constructor(seed: Seed) {
    const sm = splitmix64(checkSeed(seed));
    const a = sm.next().value as bigint;
    const b = sm.next().value as bigint;
    this.s0 = Number(a & 0xffffffffn);
    this.s1 = Number(a >> 32n);
    this.s2 = Number(b & 0xffffffffn);
    this.s3 = Number(b >> 32n);
  }

  /** A xoshiro128** generator at the given state words (for checking against the reference C code). */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.state = state;
    return r;
  }

  /**
   * The data pipeline's stream from a uint32 seed (what `deriveSeed` returns): the same draws,
   * floats and bounded integers alike, that shapes images and batches have always been made from.
   */
  static mulberry32(seed32: number): Rng {
    if (!Number.isInteger(seed32) || seed32 < 0 || seed32 >= TWO_32) throw new RangeError(`mulberry32 seed must be an integer 0..2^32-1, got ${seed32}`);
    const r = new Rng(0);
    r.datasetV1 = true;
    r.state = [seed32, 0, 0, 0];
    return r;
  }

  /** The generator's position: set it back to replay the same draws (e.g. the same sampled RoIs). */
  get state(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  set state(state: RngState) {
    const w = state.map((x) => {
      if (!Number.isInteger(x) || x < 0 || x >= TWO_32) throw new RangeError(`state words must be integers 0..2^32-1, got ${String(state)}`);
      return x;
    });
    if (w.length !== 4) throw new RangeError(`state must be four words, got ${w.length}`);
    if (this.datasetV1 && (w[1] !== 0 || w[2] !== 0 || w[3] !== 0)) throw new RangeError(`a mulberry32 state is one word then three zeros, got ${String(state)}`);
    // All zeros is xoshiro's fixed point: it would output 0 forever.
    if (!this.datasetV1 && w.every((x) => x === 0)) throw new RangeError('xoshiro128** state must not be all zero');
    [this.s0, this.s1, this.s2, this.s3] = w as [number, number, number, number];
  }

  /** Next 32-bit output, 0..2^32-1. */
  nextUint32(): number {
    if (this.datasetV1) {
      let t = (this.s0 = (this.s0 + 0x6d2b79f5) >>> 0);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (t ^ (t >>> 14)) >>> 0;
    }
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  float(): number {
    return this.nextUint32() / TWO_32;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Log-uniform in [lo, hi) (lo, hi > 0): each octave equally likely. */
  logUniform(lo: number, hi: number): number {
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }

  /** Uniform integer in [0, n), for 1 <= n <= 2^32. Every bounded draw below goes through it. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`);
    // The data stream scales a float (bias below n / 2^32); changing that would change every image.
    if (this.datasetV1) return Math.floor(this.float() * n);
    // Reject the top partial block of outputs so every residue is equally likely.
    const limit = TWO_32 - (TWO_32 % n);
    let x: number;
    do x = this.nextUint32();
    while (x >= limit);
    return x % n;
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** Fisher–Yates shuffle in place; returns `items`. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** `count` distinct elements of `items`, in random order (partial Fisher–Yates; mutates `items`). */
  choose<T>(items: T[], count: number): T[] {
    const k = Math.min(count, items.length);
    for (let i = 0; i < k; i++) {
      const j = i + this.int(items.length - i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items.slice(0, k);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
