import { controller } from '@sm-nas/proto';
import { protoset } from '@sm-nas/proto/protoset';
import { DEFAULT_PORTS, service, startServer, type RunningServer, type StartServerOptions } from '@sm-nas/service-kit';
import type { Controller } from './controller.js';
import { controllerService } from './server.js';

export { Controller, type ControllerOptions } from './controller.js';
export { controllerService } from './server.js';
export { ServiceClients } from './clients.js';
export { DEFAULT_PROFILE_SETTINGS, trainJobId } from './evaluate.js';
export { objectivesOf, paretoFront, type Objectives } from './pareto.js';
export { allowedBy, hasConstraints, repairInto } from './constraints.js';

export const SERVICE_NAME = 'controller';
export const DEFAULT_PORT = DEFAULT_PORTS.controller;

/** The controller's gRPC server over a started Controller. */
export function startControllerServer(
  options: Pick<StartServerOptions, 'host' | 'port' | 'logger' | 'security' | 'maxReceiveMessageBytes'> & { controller: Controller },
): Promise<RunningServer> {
  const { controller: ctl, ...server } = options;
  return startServer({
    serviceName: SERVICE_NAME,
    services: [service(controller.ControllerServiceDefinition, controllerService(ctl))],
    protoset,
    ...server,
  });
}
