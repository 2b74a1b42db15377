import { flops } from '@sm-nas/proto';
import { protoset } from '@sm-nas/proto/protoset';
import { DEFAULT_PORTS, service, startServer, type RunningServer, type StartServerOptions } from '@sm-nas/service-kit';
import { flopsService } from './server.js';

export { flopsService, MAX_CLASSES, MAX_PROPOSALS } from './server.js';

export const SERVICE_NAME = 'flops';
export const DEFAULT_PORT = DEFAULT_PORTS.flops;

/** The FLOPs gRPC server (health, reflection, tracing included), for main() and tests. */
export function startFlopsServer(options: Pick<StartServerOptions, 'host' | 'port' | 'logger' | 'security' | 'maxReceiveMessageBytes'>): Promise<RunningServer> {
  return startServer({
    serviceName: SERVICE_NAME,
    services: [service(flops.FlopsServiceDefinition, flopsService())],
    protoset,
    ...options,
  });
}
