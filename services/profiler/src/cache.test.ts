// The cache key names everything that changes a measurement: the settings it was made with as well
// as the candidate, the device and the input.
import { describe, expect, it } from 'vitest';
import { cacheKey, type CacheKeyParts } from './cache.js';
import { DEFAULT_MEASURE, type MeasureSettings } from './measure.js';

const PARTS: CacheKeyParts = {
  architectureId: 'a1b2c3d4e5f60718',
  hardwareClass: 'cpu.amd-epyc.2c-avx2-fma.wasm-simd-4.22',
  input: { widthPx: 512, heightPx: 512 },
  batch: 1,
  backendVersion: '@tensorflow/tfjs-backend-wasm@4.22.0',
  settings: DEFAULT_MEASURE,
};

describe('cacheKey', () => {
  it('differs for every measurement setting that differs', () => {
    const base = cacheKey(PARTS);
    for (const name of Object.keys(DEFAULT_MEASURE) as (keyof MeasureSettings)[]) {
      // Any other value will do: the key must not treat two settings as one.
      const settings = { ...DEFAULT_MEASURE, [name]: DEFAULT_MEASURE[name] * 2 + 1 };
      expect(cacheKey({ ...PARTS, settings }), name).not.toBe(base);
    }
  });

  it('is the same for the same settings however the object was built', () => {
    const reordered = Object.fromEntries(Object.entries(DEFAULT_MEASURE).reverse()) as unknown as MeasureSettings;
    expect(cacheKey({ ...PARTS, settings: reordered })).toBe(cacheKey(PARTS));
  });

  it('still tells apart input, batch and backend, and starts with the class token', () => {
    const base = cacheKey(PARTS);
    expect(cacheKey({ ...PARTS, input: { widthPx: 640, heightPx: 512 } })).not.toBe(base);
    expect(cacheKey({ ...PARTS, batch: 2 })).not.toBe(base);
    expect(cacheKey({ ...PARTS, backendVersion: '@tensorflow/tfjs-backend-wasm@4.21.0' })).not.toBe(base);
    expect(base.startsWith('cpu_amd-epyc_2c-avx2-fma_wasm-simd-4_22.a1b2c3d4e5f60718.')).toBe(true);
  });
});
