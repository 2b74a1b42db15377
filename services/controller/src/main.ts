import { connectBus } from '@sm-nas/bus';
import { channelCredentials, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { loadControllerConfig } from './config.js';
import { Controller } from './controller.js';
import { ServiceClients } from './clients.js';
import { startControllerServer } from './index.js';

await runMain(async () => {
  // Every variable checked before anything starts (config.ts): TLS / mutual TLS, the API's bearer
  // token (CONTROLLER_AUTH_TOKEN_FILE), NATS and its credentials, the limits, the services' addresses.
  const config = loadControllerConfig();
  const { security, limits, own } = config;
  const telemetry = startTelemetry(config.telemetry);
  const bus = await connectBus({
    servers: config.nats.url,
    name: `controller-${process.pid}`,
    ...(config.nats.security ? { security: config.nats.security } : {}),
  });
  const clients = new ServiceClients(
    { flops: own.FLOPS_ADDR, suggestion: own.SUGGESTION_ADDR },
    bus,
    security.clientTls ? channelCredentials(security.clientTls) : undefined,
  );
  const waitSeconds = own.SM_NAS_PROFILER_WAIT_SECONDS;
  const ctl = new Controller({
    bus, clients, searchspaceAddress: own.SEARCHSPACE_ADDR, tracer: telemetry.tracer, limits,
    ...(waitSeconds ? { profilerWaitMs: waitSeconds * 1000 } : {}),
    ...(own.SM_NAS_RESULTS_DIR ? { resultsDir: own.SM_NAS_RESULTS_DIR } : {}),
  });
  await ctl.start();
  const server = await startControllerServer({
    ...config.listen,
    controller: ctl,
    security,
    maxReceiveMessageBytes: limits.maxMessageBytes,
  });
  const lifecycle = runUntilSignal({ servers: [server], telemetry });
  lifecycle.onShutdown('controller', () => ctl.close());
  lifecycle.onShutdown('nats', () => bus.drain());
  lifecycle.onShutdown('clients', () => clients.close());
});
