// The controller's clients: gRPC to searchspace, flops and suggestion services (OpenTelemetry client
// middleware first, so each call is a child span of the candidate's trace and carries its context),
// NATS request/reply to the profilers of a hardware class. Calls that fail because a service is
// away (UNAVAILABLE, no profiler answering, nats-server restarting) are retried with backoff:
// a search outlives the restart of any one process.
import { setTimeout as sleep } from 'node:timers/promises';
import { BusRequestError, isNatsOutageCode, profileRequest, profileResponseCodec, type Bus } from '@sm-nas/bus';
import type { profiler} from '@sm-nas/proto';
import { flops, searchspace, suggestion } from '@sm-nas/proto';
import { ClientError, createChannel, createClientFactory, Status, type Channel, type ChannelCredentials, type Client } from 'nice-grpc';
import { openTelemetryClientMiddleware } from 'nice-grpc-opentelemetry';

export type SearchSpaceClient = Client<typeof searchspace.SearchSpaceServiceDefinition>;
export type FlopsClient = Client<typeof flops.FlopsServiceDefinition>;
export type SuggestionClient = Client<typeof suggestion.SuggestionServiceDefinition>;

const factory = createClientFactory().use(openTelemetryClientMiddleware());

export interface RetryOptions {
  /** Give up after this long (default 10 minutes). */
  maxMs?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number) => void;
  /** Retry every error, not only transient ones (publishing to a stream while nats-server restarts). */
  retryAll?: boolean;
}

const RETRYABLE_GRPC = new Set([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED]);
const RETRYABLE_BUS = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED']);

/** Transient: the other side is away or overloaded, or NATS is reconnecting. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ClientError) return RETRYABLE_GRPC.has(err.code);
  if (err instanceof BusRequestError) return RETRYABLE_BUS.has(err.code);
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && isNatsOutageCode(code);
}

export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.maxMs ?? 10 * 60_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if ((!options.retryAll && !isTransient(err)) || Date.now() > deadline || options.signal?.aborted) throw err;
      options.onRetry?.(err, attempt);
      await sleep(Math.min(3000, 100 * 2 ** Math.min(attempt, 5)));
    }
  }
}

/**
 * Channels kept open to suggestion services a spec names (besides the configured default): the
 * least recently used is closed past this. Addresses come from clients, so an unbounded cache
 * grows with every address anyone sends; a search whose channel was closed gets a new one on its
 * next round.
 */
export const MAX_NAMED_SUGGESTION_CHANNELS = 16;

export class ServiceClients {
  private readonly channels = new Set<Channel>();
  private defaultSuggestion: SuggestionClient | undefined;
  /** By address, least recently used first. */
  private readonly namedSuggestions = new Map<string, { client: SuggestionClient; channel: Channel }>();
  readonly searchspace: SearchSpaceClient;
  readonly flops: FlopsClient;

  constructor(
    readonly addresses: { searchspace: string; flops: string; suggestion: string | undefined },
    readonly bus: Bus,
    /** TLS credentials for the services' channels (libs/service-kit channelCredentials); plaintext when absent. */
    private readonly credentials?: ChannelCredentials,
  ) {
    this.searchspace = factory.create(searchspace.SearchSpaceServiceDefinition, this.channel(addresses.searchspace));
    this.flops = factory.create(flops.FlopsServiceDefinition, this.channel(addresses.flops));
  }

  private channel(address: string): Channel {
    const channel = createChannel(address, this.credentials);
    this.channels.add(channel);
    return channel;
  }

  /** Named suggestion services with an open channel (tests). */
  get namedSuggestionChannels(): number {
    return this.namedSuggestions.size;
  }

  /** The suggestion service at `address`, or the configured default. */
  suggestion(address: string): SuggestionClient {
    const target = address || this.addresses.suggestion;
    if (!target) throw new Error('no suggestion service: set algorithm.suggestion_address or SUGGESTION_ADDR');
    if (target === this.addresses.suggestion) {
      this.defaultSuggestion ??= factory.create(suggestion.SuggestionServiceDefinition, this.channel(target));
      return this.defaultSuggestion;
    }
    let named = this.namedSuggestions.get(target);
    if (named) {
      this.namedSuggestions.delete(target);
    } else {
      const channel = this.channel(target);
      named = { client: factory.create(suggestion.SuggestionServiceDefinition, channel), channel };
    }
    this.namedSuggestions.set(target, named);
    for (const [oldest, entry] of this.namedSuggestions) {
      if (this.namedSuggestions.size <= MAX_NAMED_SUGGESTION_CHANNELS) break;
      this.namedSuggestions.delete(oldest);
      this.channels.delete(entry.channel);
      entry.channel.close();
    }
    return named.client;
  }

  /** Latency measured by a profiler of `request.hardwareClass`, over NATS (queue group per class). */
  profile(request: profiler.ProfileRequest, timeoutMs: number): Promise<profiler.ProfileResponse> {
    return this.bus.request(profileRequest.to({ hardwareClass: request.hardwareClass }), request, {
      reply: profileResponseCodec,
      timeoutMs,
    });
  }

  close(): void {
    for (const c of this.channels) c.close();
  }
}
