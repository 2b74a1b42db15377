// The variation operators, called on the searchspace service over gRPC (the algorithm owns the
// selection; the space owns what a valid architecture, a mutation and a crossover are). Errors of
// the searchspace call are re-thrown as domain errors naming `searchspace_address`, so a client of
// the suggestion service sees UNAVAILABLE (not INTERNAL) when the searchspace is down.
import type { common} from '@sm-nas/proto';
import { searchspace } from '@sm-nas/proto';
import { createServiceClient, DomainError, isAbortError, type DomainStatusCode, type ServiceClient } from '@sm-nas/service-kit';
import { ClientError, Status, createChannel, type Channel, type ChannelCredentials } from 'nice-grpc';

export type WireStage = common.SearchStage;

/** Deadline of one searchspace call: they are small and local; a stuck one should not hang a search. */
export const SEARCHSPACE_CALL_TIMEOUT_MS = 10_000;

/**
 * How long the client retries a call while the searchspace is away (its methods are idempotent):
 * a short blip is ridden out here; a longer outage is answered UNAVAILABLE before the call's
 * deadline, and the controller asks the round again.
 */
export const SEARCHSPACE_RETRY_MAX_MS = 2_000;

export class SearchSpaceOps {
  private readonly channel: Channel;
  private readonly client: ServiceClient<typeof searchspace.SearchSpaceServiceDefinition>;
  /** Calls made, for tests and logs. */
  calls = 0;

  constructor(
    private readonly address: string,
    private readonly signal?: AbortSignal,
    /** The suggestion server's own client certificate where the mesh runs mutual TLS. */
    credentials?: ChannelCredentials,
  ) {
    this.channel = createChannel(address, credentials);
    // Each call a client span under the GetSuggestions server span: the round's trace shows the work.
    this.client = createServiceClient(searchspace.SearchSpaceServiceDefinition, this.channel, { retryMaxMs: SEARCHSPACE_RETRY_MAX_MS });
  }

  private async call<T>(method: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.calls++;
    const timeout = AbortSignal.timeout(SEARCHSPACE_CALL_TIMEOUT_MS);
    const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
    try {
      return await run(signal);
    } catch (err) {
      // A call cut by the timeout rejects with the signal's reason (a TimeoutError), not an AbortError.
      if ((timeout.aborted || isAbortError(err)) && !this.signal?.aborted) {
        throw new DomainError('UNAVAILABLE', `searchspace_address: ${method} at ${this.address} did not answer within ${SEARCHSPACE_CALL_TIMEOUT_MS} ms`);
      }
      if (err instanceof ClientError) {
        const code = (Status[err.code] ?? 'UNAVAILABLE') as DomainStatusCode;
        const mapped: DomainStatusCode = code === 'INVALID_ARGUMENT' || code === 'UNAVAILABLE' ? code : 'FAILED_PRECONDITION';
        throw new DomainError(mapped, `searchspace_address: ${method} at ${this.address} failed: ${err.details}`, { cause: err });
      }
      throw err;
    }
  }

  async sample(stage: WireStage, count: number, seed: number, base?: common.Architecture): Promise<common.DescribedArchitecture[]> {
    const r = await this.call('Sample', (signal) => this.client.sample({ stage, count, seed, base }, { signal }));
    return r.architectures;
  }

  async mutate(architecture: common.Architecture, stage: WireStage, seed: number): Promise<common.DescribedArchitecture> {
    const r = await this.call('Mutate', (signal) => this.client.mutate({ architecture, stage, seed }, { signal }));
    return required(r.architecture, 'Mutate');
  }

  async crossover(first: common.Architecture, second: common.Architecture, stage: WireStage, seed: number): Promise<common.DescribedArchitecture> {
    const r = await this.call('Crossover', (signal) => this.client.crossover({ first, second, stage, seed }, { signal }));
    return required(r.child, 'Crossover');
  }

  close(): void {
    this.channel.close();
  }
}

function required<T>(x: T | undefined, method: string): T {
  if (x === undefined) throw new DomainError('FAILED_PRECONDITION', `searchspace_address: ${method} returned no architecture`);
  return x;
}
