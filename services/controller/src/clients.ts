// The controller's clients: gRPC to the flops and suggestion services (libs/service-kit
// createServiceClient: a client span per call under the candidate's trace, and retry of the methods
// the protos mark idempotent while a service is away), NATS request/reply to the profilers of a
// hardware class (retried by the caller with @sm-nas/bus retryOverBus). A search outlives the
// restart of any one process.
import { profileRequest, profileResponseCodec, type Bus } from '@sm-nas/bus';
import type { profiler } from '@sm-nas/proto';
import { flops, suggestion } from '@sm-nas/proto';
import { createServiceClient, type ServiceClient } from '@sm-nas/service-kit';
import { createChannel, type Channel, type ChannelCredentials } from 'nice-grpc';

export type FlopsClient = ServiceClient<typeof flops.FlopsServiceDefinition>;
export type SuggestionClient = ServiceClient<typeof suggestion.SuggestionServiceDefinition>;

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
  readonly flops: FlopsClient;

  constructor(
    readonly addresses: { flops: string; suggestion: string | undefined },
    readonly bus: Bus,
    /** TLS credentials for the services' channels (libs/service-kit channelCredentials); plaintext when absent. */
    private readonly credentials?: ChannelCredentials,
  ) {
    this.flops = createServiceClient(flops.FlopsServiceDefinition, this.channel(addresses.flops));
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
      this.defaultSuggestion ??= createServiceClient(suggestion.SuggestionServiceDefinition, this.channel(target));
      return this.defaultSuggestion;
    }
    let named = this.namedSuggestions.get(target);
    if (named) {
      this.namedSuggestions.delete(target);
    } else {
      const channel = this.channel(target);
      named = { client: createServiceClient(suggestion.SuggestionServiceDefinition, channel), channel };
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
