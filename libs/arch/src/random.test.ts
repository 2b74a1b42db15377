import { describe, expect, it } from 'vitest';
import { Rng as SharedRng } from '@sm-nas/random';
import { ArchValidationError } from './errors.js';
import { Rng, checkSeed, foldSeed32 } from './random.js';

// The generator itself is tested in @sm-nas/random; here, what this library adds to it.
describe('arch seeds', () => {
  it('draws from the workspace generator', () => {
    expect(Rng).toBe(SharedRng);
  });

  it('rejects seeds outside 0..2^64-1, and numbers past 2^53 (inexact), as ArchValidationError', () => {
    for (const bad of [-1, 1.5, 2 ** 53 + 2, 2 ** 64, Number.NaN, '3', -1n, 1n << 64n]) {
      expect(() => checkSeed(bad)).toThrow(ArchValidationError);
      expect(() => checkSeed(bad)).toThrow(/^seed: /);
      expect(() => foldSeed32(bad as bigint)).toThrow(ArchValidationError);
    }
    try {
      checkSeed(-1, 'stage_seeds[2]');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ArchValidationError);
      expect((err as ArchValidationError).field).toBe('stage_seeds[2]');
    }
    expect(checkSeed(2 ** 53)).toBe(2n ** 53n);
    expect(checkSeed((1n << 64n) - 1n)).toBe((1n << 64n) - 1n);
  });

  it('folds a seed into 32 bits: itself below 2^32, the high word mixed in above', () => {
    expect(foldSeed32(0)).toBe(0);
    expect(foldSeed32(2 ** 32 - 1)).toBe(2 ** 32 - 1);
    expect(foldSeed32(12345n)).toBe(12345);
    const lowOnes = [2n ** 32n - 1n, 2n ** 53n - 1n, 2n ** 63n + (2n ** 32n - 1n), (1n << 64n) - 1n].map(foldSeed32);
    expect(new Set(lowOnes).size).toBe(lowOnes.length);
  });
});
