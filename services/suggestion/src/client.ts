// The client the controller uses to reach a suggestion service, whatever language serves it
// (ours, or one generated from proto/ elsewhere). It does not trust the answer: every suggested
// architecture is validated in the stage's space and de-duplicated against the history and the
// batch, and, in the modular stage, must keep the structure of one of the stage seeds. What fails
// a check is returned as `rejected` with the reason, for the controller to log, never evaluated.
import { structureKey, validateArchitecture, type SearchStage } from '@sm-nas/arch';
import { architectureFromWire, describedToWire, stageToWire, withFieldPrefix } from '@sm-nas/arch/wire';
import { suggestion, type common, type controller } from '@sm-nas/proto';
import { createServiceClient, type ServiceClient } from '@sm-nas/service-kit';
import { createChannel, type Channel } from 'nice-grpc';

export interface SuggestionQuery {
  spec: controller.SearchSpec;
  stage: SearchStage;
  /** Every candidate of the search so far, both stages, with their metrics. */
  history: readonly controller.Candidate[];
  count: number;
  /** Modular stage: the structural Pareto models to refine. */
  stageSeeds?: readonly common.DescribedArchitecture[];
  seed: bigint | number;
  /** host:port of the SearchSpaceService the algorithm may call. */
  searchspaceAddress: string;
}

export interface CheckedSuggestion {
  /** Id and canonical string computed here (libs/arch), not taken from the service. */
  described: common.DescribedArchitecture;
  parentIds: string[];
  origin: string;
}

export interface RejectedSuggestion {
  /** Position in the service's answer. */
  index: number;
  reason: string;
}

export interface SuggestionBatch {
  accepted: CheckedSuggestion[];
  rejected: RejectedSuggestion[];
}

export interface SuggestionClientOptions {
  /** Deadline of each call; default 60 s (a GetSuggestions call makes many searchspace calls). */
  timeoutMs?: number;
}

export const DEFAULT_SUGGESTION_TIMEOUT_MS = 60_000;

export class SuggestionClient {
  private readonly channel: Channel;
  private readonly client: ServiceClient<typeof suggestion.SuggestionServiceDefinition>;
  private readonly timeoutMs: number;

  constructor(
    readonly address: string,
    options: SuggestionClientOptions = {},
  ) {
    this.channel = createChannel(address);
    this.client = createServiceClient(suggestion.SuggestionServiceDefinition, this.channel);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SUGGESTION_TIMEOUT_MS;
  }

  private signal(signal?: AbortSignal): AbortSignal {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  }

  /** Resolves if the service accepts `spec`; otherwise rejects with its ClientError (INVALID_ARGUMENT naming the field). */
  async validateSettings(spec: controller.SearchSpec, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.client.validateSettings({ spec }, { signal: this.signal(options.signal) });
  }

  async getSuggestions(query: SuggestionQuery, options: { signal?: AbortSignal } = {}): Promise<SuggestionBatch> {
    const response = await this.client.getSuggestions(
      {
        spec: query.spec,
        stage: stageToWire(query.stage),
        history: [...query.history],
        count: query.count,
        stageSeeds: [...(query.stageSeeds ?? [])],
        seed: query.seed,
        searchspaceAddress: query.searchspaceAddress,
      },
      { signal: this.signal(options.signal) },
    );
    return checkSuggestions(query, response.suggestions);
  }

  close(): void {
    this.channel.close();
  }
}

/** The checks of the module comment, on a service's answer to `query`. */
export function checkSuggestions(query: SuggestionQuery, suggestions: readonly suggestion.Suggestion[]): SuggestionBatch {
  // The history and the seeds were validated where they entered the search: their ids are used
  // as they are, not recomputed every round.
  const seen = new Set<string>();
  for (const c of query.history) if (c.architecture?.id) seen.add(c.architecture.id);
  const seedStructures = new Set<string>();
  for (const s of query.stageSeeds ?? []) {
    if (s.id) seen.add(s.id);
    try {
      seedStructures.add(structureKey(validateArchitecture(architectureFromWire(s.architecture), { space: 'any' })));
    } catch {
      // an invalid seed constrains nothing; the service will have rejected the request anyway
    }
  }
  const accepted: CheckedSuggestion[] = [];
  const rejected: RejectedSuggestion[] = [];
  for (const [index, s] of suggestions.entries()) {
    if (accepted.length >= query.count) {
      rejected.push({ index, reason: `more suggestions than the ${query.count} asked for` });
      continue;
    }
    let described: common.DescribedArchitecture;
    try {
      const arch = withFieldPrefix(`suggestions[${index}].architecture`, () =>
        validateArchitecture(architectureFromWire(s.architecture), { space: query.stage }),
      );
      if (query.stage === 'modular' && !seedStructures.has(structureKey(arch))) {
        rejected.push({ index, reason: `suggestions[${index}].architecture: its structure is none of the stage seeds'` });
        continue;
      }
      described = describedToWire(arch);
    } catch (err) {
      rejected.push({ index, reason: err instanceof Error ? err.message : String(err) });
      continue;
    }
    if (seen.has(described.id)) {
      rejected.push({ index, reason: `suggestions[${index}].architecture: ${described.id} (${described.canonical}) was already proposed` });
      continue;
    }
    seen.add(described.id);
    accepted.push({ described, parentIds: [...s.parentIds], origin: s.origin });
  }
  return { accepted, rejected };
}
