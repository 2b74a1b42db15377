// Handlers of nas.suggestion.v1.SuggestionService for one algorithm. Stateless: the request
// carries the spec, the history and the seed, so the same request always gets the same answer
// (given a deterministic searchspace service, which ours is).
import { Rng, checkSeed } from '@sm-nas/arch';
import { requireStage, stageToWire } from '@sm-nas/arch/wire';
import { trace } from '@opentelemetry/api';
import type { suggestion } from '@sm-nas/proto';
import { ATTR_NAS_SEARCH_STAGE, ATTR_NAS_SUGGESTION_ALGORITHM, InvalidArgumentError } from '@sm-nas/service-kit';
import type { CallContext, ChannelCredentials, ServiceImplementation } from 'nice-grpc';
import { proposeEvolution } from './evolution.js';
import { readHistory } from './history.js';
import { proposeNsga2 } from './nsga2.js';
import type { Proposals, ProposeContext } from './propose.js';
import { proposeRandom } from './random.js';
import { SearchSpaceOps } from './searchspace-client.js';
import { parseSettings, type AlgorithmName } from './settings.js';

/** Upper bound of GetSuggestions' `count`: a generation, not a whole search. */
export const MAX_SUGGESTIONS = 1000;

const PROPOSERS: Record<AlgorithmName, (ctx: ProposeContext) => Promise<Proposals>> = {
  evolution: proposeEvolution,
  nsga2: proposeNsga2,
  random: proposeRandom,
};

/**
 * The handlers for a server running `algorithms`: one (a server per algorithm, as a search names
 * its algorithm by address) or several (the mesh's default service, which runs the one the spec
 * names). A spec naming an algorithm the server does not run is INVALID_ARGUMENT. Calls to the
 * searchspace service use `searchspaceCredentials` (plaintext when absent).
 */
export function suggestionService(
  algorithms: AlgorithmName | readonly AlgorithmName[],
  options: { searchspaceCredentials?: ChannelCredentials } = {},
): ServiceImplementation<typeof suggestion.SuggestionServiceDefinition> {
  const served = typeof algorithms === 'string' ? [algorithms] : [...algorithms];
  return {
    async validateSettings(request) {
      parseSettings(served, request.spec);
      return {};
    },

    async getSuggestions(request, context: CallContext) {
      const settings = parseSettings(served, request.spec);
      const { algorithm } = settings;
      const stage = requireStage(request.stage);
      if (!Number.isInteger(request.count) || request.count < 1 || request.count > MAX_SUGGESTIONS) {
        throw new InvalidArgumentError('count', `must be 1..${MAX_SUGGESTIONS}, got ${request.count}`);
      }
      if (!request.searchspaceAddress) {
        throw new InvalidArgumentError('searchspace_address', `required: ${algorithm} samples, mutates and crosses over through a SearchSpaceService`);
      }
      const seed = checkSeed(request.seed, 'seed');
      const history = readHistory(stage, request.history, request.stageSeeds);
      trace.getActiveSpan()?.setAttributes({ [ATTR_NAS_SUGGESTION_ALGORITHM]: algorithm, [ATTR_NAS_SEARCH_STAGE]: stage });

      const ops = new SearchSpaceOps(request.searchspaceAddress, context.signal, options.searchspaceCredentials);
      try {
        const out = await PROPOSERS[algorithm]({
          stage,
          wireStage: stageToWire(stage),
          count: request.count,
          rng: new Rng(seed),
          ops,
          history,
          settings,
        });
        return {
          suggestions: out.list.map((p) => ({ architecture: p.described.architecture, parentIds: p.parentIds, origin: p.origin })),
        };
      } finally {
        ops.close();
      }
    },
  };
}
