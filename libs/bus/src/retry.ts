// Retry of what goes over NATS (JetStream publishes, KV writes, requests to a queue group) while
// nats-server restarts or no responder is up. gRPC calls are retried by client middleware from the
// protos' idempotency annotations (libs/service-kit client.ts); NATS has no such layer, so this is
// the one retry loop for it. JetStream publishes are safe to repeat (their message id
// de-duplicates them), and a request is repeated only by callers whose responders are idempotent.
import { setTimeout as sleep } from 'node:timers/promises';
import { BusRequestError, isNatsOutageCode } from './bus.js';

/** Codes of a failed request worth repeating: no responder (yet), or none answered in time. */
const RETRYABLE_REQUEST_CODES = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED']);

/** NATS is away (reconnecting, JetStream not up yet) or a responder is away or slow. */
export function isTransientBusError(err: unknown): boolean {
  if (err instanceof BusRequestError) return RETRYABLE_REQUEST_CODES.has(err.code);
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && isNatsOutageCode(code);
}

export interface BusRetryOptions {
  /** Whether an error is worth another attempt; default `isTransientBusError`. */
  retryIf?: (err: unknown) => boolean;
  /** No attempt starts later than this many milliseconds after the first; default no bound. */
  maxMs?: number;
  /** Aborted: no further attempt (the last error is thrown). */
  signal?: AbortSignal;
  /** After each failed attempt that will be repeated; `attempt` counts from 1. */
  onRetry?: (err: unknown, attempt: number) => void;
  /** First wait, doubled each attempt up to `maxDelayMs` (defaults 200 ms and 3 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** `fn`, repeated with exponential backoff while it fails with an error `retryIf` accepts. */
export async function retryOverBus<T>(fn: () => Promise<T>, options: BusRetryOptions = {}): Promise<T> {
  const { retryIf = isTransientBusError, maxMs = Number.POSITIVE_INFINITY, signal, onRetry, baseDelayMs = 200, maxDelayMs = 3000 } = options;
  const giveUpAt = Date.now() + maxMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (signal?.aborted || !retryIf(err)) throw err;
      const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 16));
      if (Date.now() + delayMs > giveUpAt) throw err;
      onRetry?.(err, attempt);
      try {
        await sleep(delayMs, undefined, signal ? { signal } : {});
      } catch {
        throw err;
      }
    }
  }
}
