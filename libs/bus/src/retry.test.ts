import { describe, expect, it } from 'vitest';
import { BusRequestError } from './bus.js';
import { isTransientBusError, retryOverBus } from './retry.js';

/** Fails with `errors` in turn, then answers `done`. */
function flaky(errors: unknown[]): { fn: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    fn: async () => {
      const err = errors[calls++];
      if (err !== undefined) throw err;
      return 'done';
    },
    calls: () => calls,
  };
}

const away = Object.assign(new Error('disconnected'), { code: 'DISCONNECT' });

describe('retryOverBus', () => {
  it('repeats while NATS or the responders are away', async () => {
    const { fn, calls } = flaky([away, new BusRequestError('UNAVAILABLE', 'no responders', { noResponders: true }), new BusRequestError('DEADLINE_EXCEEDED', 'late')]);
    const retried: number[] = [];
    expect(await retryOverBus(fn, { baseDelayMs: 1, onRetry: (_, attempt) => retried.push(attempt) })).toBe('done');
    expect(calls()).toBe(4);
    expect(retried).toEqual([1, 2, 3]);
  });

  it('throws anything else at once', async () => {
    const refused = new BusRequestError('INVALID_ARGUMENT', 'architecture: missing');
    const { fn, calls } = flaky([refused]);
    await expect(retryOverBus(fn, { baseDelayMs: 1 })).rejects.toBe(refused);
    expect(calls()).toBe(1);
    expect(isTransientBusError(new Error('MAX_PAYLOAD_EXCEEDED'))).toBe(false);
  });

  it('gives up with the last error after maxMs, or once the signal is aborted', async () => {
    const always = flaky(Array.from({ length: 1000 }, () => away));
    await expect(retryOverBus(always.fn, { baseDelayMs: 20, maxDelayMs: 20, maxMs: 200 })).rejects.toBe(away);
    expect(always.calls()).toBeGreaterThan(2);
    expect(always.calls()).toBeLessThan(20);

    const aborted = flaky(Array.from({ length: 1000 }, () => away));
    const started = Date.now();
    await expect(retryOverBus(aborted.fn, { baseDelayMs: 10_000, signal: AbortSignal.timeout(100) })).rejects.toBe(away);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(aborted.calls()).toBe(1);
  });
});
