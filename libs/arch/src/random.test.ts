import { describe, expect, it } from 'vitest';
import { Rng, checkSeed, splitmix64 } from './random.js';

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
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 8 }, () => r.nextUint32());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(2 ** 53)).not.toEqual(draw(2 ** 53 - 1));
  });

  it('draws bounded integers roughly uniformly', () => {
    const r = new Rng(7);
    const counts = new Array<number>(6).fill(0);
    const n = 60_000;
    for (let i = 0; i < n; i++) counts[r.int(6)]!++;
    // Each bucket's expected count is 10,000 with sd ~91; 5 sd either side.
    for (const c of counts) expect(Math.abs(c - n / 6)).toBeLessThan(460);
  });

  it('rejects seeds outside 0..2^53', () => {
    for (const bad of [-1, 1.5, 2 ** 53 + 2, Number.NaN, '3']) expect(() => checkSeed(bad)).toThrow(/^seed: /);
    expect(checkSeed(2 ** 53)).toBe(2 ** 53);
  });
});
