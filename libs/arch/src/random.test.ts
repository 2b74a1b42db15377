import { describe, expect, it } from 'vitest';
import { Rng, checkSeed, foldSeed32, splitmix64 } from './random.js';

describe('Rng', () => {
  it('matches the reference xoshiro128** output', () => {
    // https://prng.di.unimi.it/xoshiro128starstar.c from state {1, 2, 3, 4}: first outputs
    // 11520, 0, 5927040, 70819200 (worked by hand: rotl(2 * 5, 7) * 9 = 11520; then s1 = 0).
    const r = Rng.fromState([1, 2, 3, 4]);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([11520, 0, 5927040, 70819200]);
  });

  it('seeds through the reference splitmix64', () => {
    // https://prng.di.unimi.it/splitmix64.c from seed 0: first output 0xe220a8397b1dcdaf.
    expect(splitmix64(0n).next().value).toBe(0xe220a8397b1dcdafn);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const draw = (seed: bigint | number) => {
      const r = new Rng(seed);
      return Array.from({ length: 8 }, () => r.nextUint32());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(2 ** 53)).not.toEqual(draw(2 ** 53 - 1));
    // A number and the bigint of the same value are one seed.
    expect(draw(2 ** 53)).toEqual(draw(2n ** 53n));
  });

  it('uses all 64 bits of a seed: the uint64 seeds above 2^53 all draw differently', () => {
    const draw = (seed: bigint) => {
      const r = new Rng(seed);
      return Array.from({ length: 4 }, () => r.nextUint32()).join(',');
    };
    const top = (1n << 64n) - 1n;
    // Equal low 32 or 53 bits, different high bits; the top seed against its neighbours.
    const seeds = [2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 63n + (2n ** 53n - 1n), top - 1n, top, 2n ** 32n - 1n, (2n ** 32n - 1n) << 32n];
    expect(new Set(seeds.map(draw)).size).toBe(seeds.length);
    expect(draw(top)).toEqual(draw(top));
  });

  it('draws bounded integers roughly uniformly', () => {
    const r = new Rng(7);
    const counts = new Array<number>(6).fill(0);
    const n = 60_000;
    for (let i = 0; i < n; i++) counts[r.int(6)]!++;
    // Each bucket's expected count is 10,000 with sd ~91; 5 sd either side.
    for (const c of counts) expect(Math.abs(c - n / 6)).toBeLessThan(460);
  });

  it('rejects seeds outside 0..2^64-1, and numbers past 2^53 (inexact)', () => {
    for (const bad of [-1, 1.5, 2 ** 53 + 2, 2 ** 64, Number.NaN, '3', -1n, 1n << 64n]) expect(() => checkSeed(bad)).toThrow(/^seed: /);
    expect(checkSeed(2 ** 53)).toBe(2n ** 53n);
    expect(checkSeed((1n << 64n) - 1n)).toBe((1n << 64n) - 1n);
  });

  it('folds a seed into 32 bits: itself below 2^32, the high word mixed in above', () => {
    expect(foldSeed32(0)).toBe(0);
    expect(foldSeed32(2 ** 32 - 1)).toBe(2 ** 32 - 1);
    expect(foldSeed32(12345n)).toBe(12345);
    // Same low word, different high words: never the same fold.
    const lowOnes = [2n ** 32n - 1n, 2n ** 53n - 1n, 2n ** 63n + (2n ** 32n - 1n), (1n << 64n) - 1n].map(foldSeed32);
    expect(new Set(lowOnes).size).toBe(lowOnes.length);
    for (const f of lowOnes) expect(Number.isInteger(f) && f >= 0 && f < 2 ** 32).toBe(true);
  });
});
