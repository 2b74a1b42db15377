import { describe, expect, it } from 'vitest';
import { Rng, SeedError, checkSeed, deriveSeed, fmix32, foldSeed32, splitmix64 } from './index.js';

// An independent model of the reference C code, in BigInt arithmetic (no Math.imul, no 32-bit
// shifts), seeded as documented: splitmix64's first two outputs, low word then high word.
const M32 = 0xffffffffn;
const M64 = (1n << 64n) - 1n;
function referenceXoshiro(seed: bigint, count: number): number[] {
  let x = seed;
  const sm = (): bigint => {
    x = (x + 0x9e3779b97f4a7c15n) & M64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  };
  const a = sm();
  const b = sm();
  const s = [a & M32, a >> 32n, b & M32, b >> 32n];
  const rotl = (v: bigint, k: bigint) => ((v << k) | (v >> (32n - k))) & M32;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number((rotl((s[1]! * 5n) & M32, 7n) * 9n) & M32));
    const t = (s[1]! << 9n) & M32;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11n);
  }
  return out;
}

const draw = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextUint32());

describe('Rng (xoshiro128**)', () => {
  it('matches the reference xoshiro128** output', () => {
    // https://prng.di.unimi.it/xoshiro128starstar.c from state {1, 2, 3, 4}: first outputs
    // 11520, 0, 5927040, 70819200 (worked by hand: rotl(2 * 5, 7) * 9 = 11520; then s1 = 0).
    expect(draw(Rng.fromState([1, 2, 3, 4]), 4)).toEqual([11520, 0, 5927040, 70819200]);
  });

  it('seeds through the reference splitmix64', () => {
    // https://prng.di.unimi.it/splitmix64.c from seed 0: first output 0xe220a8397b1dcdaf.
    expect(splitmix64(0n).next().value).toBe(0xe220a8397b1dcdafn);
  });

  it('draws what a BigInt model of the reference code draws, for seeds across the uint64 range', () => {
    for (const seed of [0n, 1n, 42n, 2n ** 32n - 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, M64]) {
      expect(draw(new Rng(seed), 1000), String(seed)).toEqual(referenceXoshiro(seed, 1000));
    }
    // A number and the bigint of the same value are one seed.
    expect(draw(new Rng(2 ** 53), 8)).toEqual(draw(new Rng(2n ** 53n), 8));
  });

  it('replays its draws from a saved state, and the saved state is a copy', () => {
    const r = new Rng(7);
    draw(r, 5);
    const saved = r.state;
    const first = [r.nextUint32(), r.float(), r.int(10), r.range(-3, 3), r.pick(['a', 'b', 'c']), r.choose([1, 2, 3, 4, 5], 3)];
    expect(r.state).not.toEqual(saved);
    r.state = saved;
    expect([r.nextUint32(), r.float(), r.int(10), r.range(-3, 3), r.pick(['a', 'b', 'c']), r.choose([1, 2, 3, 4, 5], 3)]).toEqual(first);
    // Another generator set to the same state continues the same stream.
    const other = new Rng(99);
    other.state = saved;
    r.state = saved;
    expect(draw(other, 16)).toEqual(draw(r, 16));
    expect(() => (r.state = [0, 0, 0, 0])).toThrow(/all zero/);
    expect(() => (r.state = [1, 2, 3, 2 ** 32])).toThrow(/0..2\^32-1/);
  });

  it('draws bounded integers roughly uniformly, and only in range', () => {
    const r = new Rng(7);
    const counts = new Array<number>(6).fill(0);
    const n = 60_000;
    for (let i = 0; i < n; i++) counts[r.int(6)]!++;
    // Each bucket's expected count is 10,000 with sd ~91; 5 sd either side.
    for (const c of counts) expect(Math.abs(c - n / 6)).toBeLessThan(460);
    for (let i = 0; i < 1000; i++) {
      const v = r.range(-2, 2);
      expect(v >= -2 && v <= 2 && Number.isInteger(v)).toBe(true);
    }
    expect(() => r.int(0)).toThrow(RangeError);
    expect(() => r.int(1.5)).toThrow(RangeError);
    expect(() => r.pick([])).toThrow(/empty/);
  });

  it('shuffles and chooses without losing or repeating elements', () => {
    const r = new Rng(3);
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect([...r.shuffle([...items])].sort((a, b) => a - b)).toEqual(items);
    const chosen = r.choose([...items], 10);
    expect(new Set(chosen).size).toBe(10);
    expect(r.choose([1, 2], 5).sort()).toEqual([1, 2]);
  });
});

describe('Rng.mulberry32 (the built-in datasets\' stream)', () => {
  it('matches the reference mulberry32 output for seed 0', () => {
    // Reference: the public-domain C/JS mulberry32 (bryc/code, PRNGs.md) with a = 0, first three
    // outputs as uint32.
    expect(draw(Rng.mulberry32(0), 3)).toEqual([1144304738, 1416247, 958946056]);
  });

  it('scales a float for bounded integers, as the datasets have always drawn them', () => {
    const a = Rng.mulberry32(12345);
    const b = Rng.mulberry32(12345);
    for (let i = 0; i < 1000; i++) expect(a.range(3, 9)).toBe(3 + Math.floor(b.float() * 7));
    const saved = a.state;
    expect(saved.slice(1)).toEqual([0, 0, 0]);
    const next = draw(a, 4);
    a.state = saved;
    expect(draw(a, 4)).toEqual(next);
    expect(() => Rng.mulberry32(-1)).toThrow(RangeError);
    expect(() => Rng.mulberry32(2 ** 32)).toThrow(RangeError);
  });
});

describe('seed rules', () => {
  it('rejects seeds outside 0..2^64-1, and numbers past 2^53 (inexact)', () => {
    for (const bad of [-1, 1.5, 2 ** 53 + 2, 2 ** 64, Number.NaN, '3', -1n, 1n << 64n]) {
      expect(() => checkSeed(bad)).toThrow(SeedError);
      expect(() => checkSeed(bad)).toThrow(/^seed: /);
    }
    expect(() => checkSeed(-1, 'schedule.seed')).toThrow(/^schedule\.seed: /);
    expect(() => new Rng(-1)).toThrow(SeedError);
    expect(checkSeed(2 ** 53)).toBe(2n ** 53n);
    expect(checkSeed(M64)).toBe(M64);
  });

  it('folds a seed into 32 bits: itself below 2^32, the high word mixed in above', () => {
    expect(foldSeed32(0)).toBe(0);
    expect(foldSeed32(2 ** 32 - 1)).toBe(2 ** 32 - 1);
    expect(foldSeed32(12345n)).toBe(12345);
    // low word XOR fmix32(high word), by hand for 2^32 + 5.
    expect(foldSeed32(2n ** 32n + 5n)).toBe((5 ^ fmix32(1)) >>> 0);
    // Same low word, different high words: never the same fold.
    const lowOnes = [2n ** 32n - 1n, 2n ** 53n - 1n, 2n ** 63n + (2n ** 32n - 1n), M64].map(foldSeed32);
    expect(new Set(lowOnes).size).toBe(lowOnes.length);
    for (const f of lowOnes) expect(Number.isInteger(f) && f >= 0 && f < 2 ** 32).toBe(true);
  });

  it('fmix32 is murmur3\'s finaliser', () => {
    // fmix32(1) worked in BigInt arithmetic from murmur3's constants: 0x514e28b7.
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
  });

  it('derives distinct, stable child seeds', () => {
    expect(deriveSeed(1, 'train')).not.toBe(deriveSeed(1, 'val'));
    expect(deriveSeed(1, 0)).not.toBe(deriveSeed(1, 1));
    expect(deriveSeed(7, 'x')).toBe(deriveSeed(7, 'x'));
  });
});
