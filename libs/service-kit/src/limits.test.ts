import { describe, expect, it } from 'vitest';
import { checkInputSize, checkLimit, concurrencyGate, DEFAULT_LIMITS, loadLimits } from './limits.js';

describe('limits', () => {
  it('defaults to 4 MiB messages, 4096 px inputs, 256 candidates and 4 searches', () => {
    expect(loadLimits({})).toEqual({ maxMessageBytes: 4_194_304, maxInputSidePx: 4096, maxPopulation: 256, maxConcurrentSearches: 4 });
    expect(loadLimits({ SM_NAS_MAX_POPULATION: '32' }).maxPopulation).toBe(32);
    expect(() => loadLimits({ SM_NAS_MAX_MESSAGE_BYTES: '-1', SM_NAS_MAX_CONCURRENT_SEARCHES: 'x' })).toThrow(
      /SM_NAS_MAX_MESSAGE_BYTES: expected a positive number of bytes[\s\S]*SM_NAS_MAX_CONCURRENT_SEARCHES: expected a positive integer/,
    );
  });

  it('refuses a value over a limit with INVALID_ARGUMENT naming the field and the variable', () => {
    expect(() => checkLimit('population_size', 256, DEFAULT_LIMITS.maxPopulation)).not.toThrow();
    expect(() => checkLimit('population_size', 257, DEFAULT_LIMITS.maxPopulation, 'SM_NAS_MAX_POPULATION')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'population_size: 257 exceeds the limit 256 (SM_NAS_MAX_POPULATION)' }),
    );
    expect(() => checkInputSize('architecture.input', { width: 1333, height: 5000 }, { maxInputSidePx: 2048 })).toThrow(
      /^architecture\.input\.height: 5000 exceeds the limit 2048 \(SM_NAS_MAX_INPUT_SIDE_PX\)$/,
    );
  });

  it('gates concurrent searches: RESOURCE_EXHAUSTED past the limit, a slot back on release', () => {
    const gate = concurrencyGate(2);
    const a = gate.acquire();
    const b = gate.acquire();
    expect(() => gate.acquire()).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }));
    a();
    a(); // releasing twice gives back one slot only
    expect(gate.active).toBe(1);
    const c = gate.acquire();
    expect(() => gate.acquire()).toThrow(/2 already running/);
    b();
    c();
    expect(gate.active).toBe(0);
  });
});
