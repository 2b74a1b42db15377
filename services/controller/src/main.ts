import { connectBus } from '@sm-nas/bus';
import {
  ConfigError,
  channelCredentials,
  envVar,
  loadLimits,
  loadNatsSecurity,
  loadSecurityConfig,
  loadServiceConfig,
  runMain,
  runUntilSignal,
  startTelemetry,
} from '@sm-nas/service-kit';
import { Controller } from './controller.js';
import { ServiceClients } from './clients.js';
import { DEFAULT_PORT, SERVICE_NAME, startControllerServer } from './index.js';

await runMain(async () => {
  const config = loadServiceConfig({
    service: SERVICE_NAME,
    defaultPort: DEFAULT_PORT,
    extra: {
      SEARCHSPACE_ADDR: envVar.string('host:port of the searchspace service'),
      FLOPS_ADDR: envVar.string('host:port of the flops service'),
      SUGGESTION_ADDR: envVar.string('host:port of the default suggestion service').optional(),
      SM_NAS_PROFILER_WAIT_SECONDS: envVar.positiveInt('seconds a search waits for a profiler of its class to exist').optional(),
      SM_NAS_RESULTS_DIR: envVar.string("directory for each ended search's results folder").optional(),
    },
  });
  if (!config.natsUrl) {
    throw new ConfigError([{ variable: 'NATS_URL', expected: 'nats://host:port (the journal and the pipeline live on JetStream)', received: undefined }]);
  }
  // TLS / mutual TLS, the API's bearer token (CONTROLLER_AUTH_TOKEN_FILE), NATS credentials and the
  // limits: all opt-in, see libs/service-kit security.ts and limits.ts.
  const security = loadSecurityConfig(SERVICE_NAME);
  const natsSecurity = loadNatsSecurity();
  const limits = loadLimits();
  const telemetry = startTelemetry(config.telemetry);
  const bus = await connectBus({
    servers: config.natsUrl,
    name: `controller-${process.pid}`,
    ...(natsSecurity ? { security: natsSecurity } : {}),
  });
  const clients = new ServiceClients(
    { searchspace: config.extra.SEARCHSPACE_ADDR, flops: config.extra.FLOPS_ADDR, suggestion: config.extra.SUGGESTION_ADDR },
    bus,
    security.clientTls ? channelCredentials(security.clientTls) : undefined,
  );
  const waitSeconds = config.extra.SM_NAS_PROFILER_WAIT_SECONDS;
  const ctl = new Controller({
    bus, clients, searchspaceAddress: config.extra.SEARCHSPACE_ADDR, tracer: telemetry.tracer, limits,
    ...(waitSeconds ? { profilerWaitMs: waitSeconds * 1000 } : {}),
    ...(config.extra.SM_NAS_RESULTS_DIR ? { resultsDir: config.extra.SM_NAS_RESULTS_DIR } : {}),
  });
  await ctl.start();
  const server = await startControllerServer({
    host: config.host,
    port: config.port,
    controller: ctl,
    security,
    maxReceiveMessageBytes: limits.maxMessageBytes,
  });
  const lifecycle = runUntilSignal({ servers: [server], telemetry });
  lifecycle.onShutdown('controller', () => ctl.close());
  lifecycle.onShutdown('nats', () => bus.drain());
  lifecycle.onShutdown('clients', () => clients.close());
});
