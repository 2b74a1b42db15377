// Resource limits an operator sets for the whole mesh (one ConfigMap in deploy/k8s), read from the
// environment once at start. The gRPC message limit is enforced by every server (startServer's
// maxReceiveMessageBytes); the others are knobs for the services that own the resource: the
// controller refuses a search whose population exceeds the limit or that would run beyond the
// concurrent-search limit, and whoever accepts an architecture checks its input size.
//
//   SM_NAS_MAX_MESSAGE_BYTES        largest gRPC request (and NATS payload) accepted; default 4 MiB
//   SM_NAS_MAX_INPUT_SIDE_PX        largest input image side (width or height); default 4096, the
//                                   bound libs/arch itself validates
//   SM_NAS_MAX_POPULATION           largest population (candidates per generation) of one search; default 256
//   SM_NAS_MAX_CONCURRENT_SEARCHES  searches running at once; default 4
import { envVar, parseEnv, type Env } from './config.js';
import { DomainError } from './errors.js';

export interface Limits {
  maxMessageBytes: number;
  maxInputSidePx: number;
  maxPopulation: number;
  maxConcurrentSearches: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxInputSidePx: 4096,
  maxPopulation: 256,
  maxConcurrentSearches: 4,
});

export const LIMIT_ENV = {
  maxMessageBytes: 'SM_NAS_MAX_MESSAGE_BYTES',
  maxInputSidePx: 'SM_NAS_MAX_INPUT_SIDE_PX',
  maxPopulation: 'SM_NAS_MAX_POPULATION',
  maxConcurrentSearches: 'SM_NAS_MAX_CONCURRENT_SEARCHES',
} as const satisfies Record<keyof Limits, string>;

/** Reads the SM_NAS_MAX_* variables; a bad one throws a ConfigError naming it. */
export function loadLimits(env: Env = process.env): Limits {
  const parsed = parseEnv(
    {
      [LIMIT_ENV.maxMessageBytes]: envVar.positiveInt('a positive number of bytes').optional(),
      [LIMIT_ENV.maxInputSidePx]: envVar.positiveInt('a positive number of pixels').optional(),
      [LIMIT_ENV.maxPopulation]: envVar.positiveInt().optional(),
      [LIMIT_ENV.maxConcurrentSearches]: envVar.positiveInt().optional(),
    },
    env,
  ) as Record<string, number | undefined>;
  return {
    maxMessageBytes: parsed[LIMIT_ENV.maxMessageBytes] ?? DEFAULT_LIMITS.maxMessageBytes,
    maxInputSidePx: parsed[LIMIT_ENV.maxInputSidePx] ?? DEFAULT_LIMITS.maxInputSidePx,
    maxPopulation: parsed[LIMIT_ENV.maxPopulation] ?? DEFAULT_LIMITS.maxPopulation,
    maxConcurrentSearches: parsed[LIMIT_ENV.maxConcurrentSearches] ?? DEFAULT_LIMITS.maxConcurrentSearches,
  };
}

/** INVALID_ARGUMENT naming `field` when `value` exceeds `max` (the limit's variable in the message). */
export function checkLimit(field: string, value: number, max: number, variable?: string): void {
  if (value > max) {
    throw new DomainError('INVALID_ARGUMENT', `${field}: ${value} exceeds the limit ${max}${variable ? ` (${variable})` : ''}`);
  }
}

/** Checks an input size against SM_NAS_MAX_INPUT_SIDE_PX; `field` is the request's, e.g. `architecture.input`. */
export function checkInputSize(field: string, input: { width: number; height: number }, limits: Pick<Limits, 'maxInputSidePx'>): void {
  checkLimit(`${field}.width`, input.width, limits.maxInputSidePx, LIMIT_ENV.maxInputSidePx);
  checkLimit(`${field}.height`, input.height, limits.maxInputSidePx, LIMIT_ENV.maxInputSidePx);
}

export interface ConcurrencyGate {
  /** Takes a slot or throws RESOURCE_EXHAUSTED; call the returned function to give it back (idempotent). */
  acquire(what?: string): () => void;
  readonly active: number;
  readonly limit: number;
}

/** Counts things running at once (searches) and refuses one more than `limit`. */
export function concurrencyGate(limit: number, variable: string = LIMIT_ENV.maxConcurrentSearches): ConcurrencyGate {
  let active = 0;
  return {
    get active() {
      return active;
    },
    limit,
    acquire(what = 'searches') {
      if (active >= limit) {
        throw new DomainError('RESOURCE_EXHAUSTED', `${what}: ${limit} already running, the limit (${variable}); retry when one ends`);
      }
      active += 1;
      let released = false;
      return () => {
        if (!released) {
          released = true;
          active -= 1;
        }
      };
    },
  };
}
