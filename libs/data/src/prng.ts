// Deterministic pseudo-random numbers for dataset generation and augmentation.
//
// Generator: mulberry32 (Tommy Ettinger, public domain), a 32-bit-state generator with full period
// 2^32 that passes gjrand/PractRand for the sample sizes used here; it is pure 32-bit integer
// arithmetic (`Math.imul`, shifts), so the same seed gives the same sequence on every JS engine.
// Seeds are derived by hashing (parent seed, stream label) with the murmur3 32-bit finaliser
// (`deriveSeed`), so every image and every split gets its own independent stream: image i of a
// split never depends on how many images came before it or on what other options were chosen.

/** murmur3 fmix32: a bijective 32-bit avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
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
 * A child seed for stream `label` of `seed`: fmix32(seed ⊕ fmix32(label + golden-ratio constant)).
 * Numbers label streams by index (image 17), strings by name ('train').
 */
export function deriveSeed(seed: number, label: number | string): number {
  const l = typeof label === 'string' ? hashLabel(label) : label >>> 0;
  return fmix32((seed >>> 0) ^ fmix32((l + 0x9e3779b9) >>> 0));
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    this.state = seed >>> 0;
  }

  /** Next uniform 32-bit unsigned integer (mulberry32 step). */
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Log-uniform in [lo, hi) (lo, hi > 0): each octave equally likely. */
  logUniform(lo: number, hi: number): number {
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }

  /** Integer uniform in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}
