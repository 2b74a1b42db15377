import { suggestion } from '@sm-nas/proto';
import { protoset } from '@sm-nas/proto/protoset';
import { service, startServer, type RunningServer, type ServerLogger } from '@sm-nas/service-kit';
import { suggestionService } from './server.js';
import type { AlgorithmName } from './settings.js';

export { suggestionService, MAX_SUGGESTIONS } from './server.js';
export {
  ALGORITHMS,
  DEFAULT_POPULATION_SIZE,
  isAlgorithmName,
  knownSettings,
  parseSettings,
  type AlgorithmName,
  type AlgorithmSettings,
} from './settings.js';

export const SERVICE_NAME = 'suggestion';
/** One server per algorithm; these are their default ports (`SUGGESTION_PORT` overrides). */
export const DEFAULT_PORTS: Readonly<Record<AlgorithmName, number>> = { evolution: 50056, nsga2: 50057, random: 50058 };

/** A suggestion gRPC server running `algorithm` (health, reflection, tracing included), for main() and tests. */
export function startSuggestionServer(options: {
  algorithm: AlgorithmName;
  host: string;
  port: number;
  logger?: ServerLogger;
}): Promise<RunningServer> {
  const { algorithm, ...rest } = options;
  return startServer({
    serviceName: `${SERVICE_NAME} (${algorithm})`,
    services: [service(suggestion.SuggestionServiceDefinition, suggestionService(algorithm))],
    protoset,
    ...rest,
  });
}
