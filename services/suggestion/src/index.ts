import { suggestion } from '@sm-nas/proto';
import { protoset } from '@sm-nas/proto/protoset';
import { DEFAULT_PORTS, channelCredentials, service, startServer, type RunningServer, type ServerLogger, type StartServerOptions } from '@sm-nas/service-kit';
import { suggestionService } from './server.js';
import { ALGORITHMS, type AlgorithmName } from './settings.js';

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
export const DEFAULT_PORT = DEFAULT_PORTS.suggestion;

/**
 * A suggestion gRPC server (health, reflection, tracing included), for main() and tests: running
 * `algorithm` alone, or, without one, every algorithm (the one each request's spec names).
 */
export function startSuggestionServer(options: {
  algorithm?: AlgorithmName;
  host: string;
  port: number;
  logger?: ServerLogger;
  security?: StartServerOptions['security'];
  maxReceiveMessageBytes?: number;
}): Promise<RunningServer> {
  const { algorithm, ...rest } = options;
  // Under mutual TLS the server's client certificate (the same variables) also opens its calls to
  // the searchspace service.
  const clientTls = options.security?.clientTls;
  const searchspaceCredentials = clientTls ? channelCredentials(clientTls) : undefined;
  return startServer({
    serviceName: algorithm ? `${SERVICE_NAME} (${algorithm})` : SERVICE_NAME,
    services: [service(suggestion.SuggestionServiceDefinition, suggestionService(algorithm ?? ALGORITHMS, searchspaceCredentials ? { searchspaceCredentials } : {}))],
    protoset,
    ...rest,
  });
}
