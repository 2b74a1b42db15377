// The mesh's gRPC clients, made in one place. OpenTelemetry middleware is invoked first, so a call
// is one client span (a child of the caller's span, its context in the metadata) whatever its
// retries; each retry is an event on that span. Then retry (nice-grpc-client-middleware-retry),
// which by default retries only the methods the protos mark `idempotency_level = IDEMPOTENT` (or
// NO_SIDE_EFFECTS): repeating one cannot do anything twice. Anything else is tried once unless its
// caller passes `retry: true` for a call it knows to be safe to repeat.
//
// Retried: the other side is away (UNAVAILABLE: restarting, not up yet), slow (DEADLINE_EXCEEDED)
// or overloaded (RESOURCE_EXHAUSTED), with exponential backoff from 200 ms to 3 s, until the
// call's `retryMaxMs` (10 minutes by default) has passed or its `signal` is aborted; a search
// outlives the restart of any one service this way.
import { trace } from '@opentelemetry/api';
import { ATTR_NAS_RETRY_ATTEMPT, ATTR_NAS_RETRY_DELAY_MS, ATTR_NAS_RETRY_STATUS } from './attributes.js';
import { createClientFactory, type CallOptions, type Channel, type Client, type ClientFactory, type ClientMiddleware, type CompatServiceDefinition, Status } from 'nice-grpc';
import { retryMiddleware, type RetryOptions } from 'nice-grpc-client-middleware-retry';
import { openTelemetryClientMiddleware } from 'nice-grpc-opentelemetry';

export const RETRYABLE_STATUSES: readonly Status[] = [Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED];
export const RETRY_BASE_DELAY_MS = 200;
export const RETRY_MAX_DELAY_MS = 3000;
export const DEFAULT_RETRY_MAX_MS = 10 * 60_000;

export interface RetryBudgetOptions {
  /**
   * No retry starts later than this many milliseconds after the call did: the last error is the
   * call's. `Infinity` retries until the signal is aborted.
   */
  retryMaxMs?: number;
}

/** What a call of a service client may say about its retries. */
export type ServiceRetryOptions = RetryOptions & RetryBudgetOptions;

/** The options of a service client's call: signal, metadata and retries. */
export type ServiceCallOptions = CallOptions & ServiceRetryOptions;

export type ServiceClient<Service extends CompatServiceDefinition> = Client<Service, ServiceRetryOptions>;

/**
 * Bounds the retries by time (the retry middleware counts attempts only), and records each retry
 * on the call's span. Invoked before the retry middleware, it hands it an `onRetryableError` that
 * throws once the budget is spent: the retry middleware calls that hook before it waits, and what
 * the hook throws is the call's error (client.test.ts holds the library to this).
 */
const retryBudgetMiddleware: ClientMiddleware<RetryBudgetOptions, RetryOptions> = async function* retryBudget(call, options) {
  const { retryMaxMs = DEFAULT_RETRY_MAX_MS, ...rest } = options;
  const giveUpAt = Date.now() + retryMaxMs;
  return yield* call.next(call.request, {
    ...rest,
    onRetryableError(error, attempt, delayMs) {
      if (Date.now() + delayMs > giveUpAt) throw error;
      trace.getActiveSpan()?.addEvent('retry', { [ATTR_NAS_RETRY_ATTEMPT]: attempt + 2, [ATTR_NAS_RETRY_STATUS]: Status[error.code], [ATTR_NAS_RETRY_DELAY_MS]: delayMs });
      rest.onRetryableError?.(error, attempt, delayMs);
    },
  });
};

/** The factory behind `createServiceClient`; a middleware attached first is invoked last. */
export const serviceClientFactory: ClientFactory<ServiceRetryOptions> = createClientFactory()
  .use(retryMiddleware)
  .use(retryBudgetMiddleware)
  .use(openTelemetryClientMiddleware());

/**
 * A client of `definition` on `channel` with the mesh's middleware and retry policy. `defaults`
 * apply to every call of the client (a call's own options win), e.g. a shorter `retryMaxMs` where
 * the caller retries on its own terms.
 */
export function createServiceClient<Service extends CompatServiceDefinition>(
  definition: Service,
  channel: Channel,
  defaults: ServiceCallOptions = {},
): ServiceClient<Service> {
  return serviceClientFactory.create(definition, channel, {
    '*': {
      retryableStatuses: [...RETRYABLE_STATUSES],
      retryBaseDelayMs: RETRY_BASE_DELAY_MS,
      retryMaxDelayMs: RETRY_MAX_DELAY_MS,
      retryMaxAttempts: Number.POSITIVE_INFINITY,
      retryMaxMs: DEFAULT_RETRY_MAX_MS,
      ...defaults,
    },
  });
}
