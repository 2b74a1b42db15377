import { searchspace } from '@sm-nas/proto';
import { protoset } from '@sm-nas/proto/protoset';
import { DEFAULT_PORTS, service, startServer, type RunningServer, type StartServerOptions } from '@sm-nas/service-kit';
import { searchSpaceService } from './server.js';

export { searchSpaceService, MAX_SAMPLE_COUNT } from './server.js';

export const SERVICE_NAME = 'searchspace';
export const DEFAULT_PORT = DEFAULT_PORTS.searchspace;

/** The search-space gRPC server (health, reflection, tracing included), for main() and tests. */
export function startSearchSpaceServer(options: Pick<StartServerOptions, 'host' | 'port' | 'logger' | 'security' | 'maxReceiveMessageBytes'>): Promise<RunningServer> {
  return startServer({
    serviceName: SERVICE_NAME,
    services: [service(searchspace.SearchSpaceServiceDefinition, searchSpaceService())],
    protoset,
    ...options,
  });
}
