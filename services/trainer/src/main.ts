import { connectBus } from '@sm-nas/bus';
import {
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
import { DEFAULT_PORT, SERVICE_NAME, startTrainerServer } from './index.js';
import { startTrainJobWorker } from './job-worker.js';

await runMain(async () => {
  const config = loadServiceConfig({
    service: SERVICE_NAME,
    defaultPort: DEFAULT_PORT,
    extra: {
      TRAINER_DATA_DIR: envVar.string('a directory for checkpoints and results').optional(),
      TRAINER_JOB_ACK_WAIT_SECONDS: envVar.positiveInt('seconds a queued job may go without progress before another trainer gets it').optional(),
    },
  });
  // TLS, bearer token, health port, NATS credentials and limits: all opt-in, see libs/service-kit
  // security.ts and limits.ts.
  const security = loadSecurityConfig(SERVICE_NAME);
  const natsSecurity = loadNatsSecurity();
  const limits = loadLimits();
  const telemetry = startTelemetry(config.telemetry);
  const server = await startTrainerServer({
    host: config.host,
    port: config.port,
    security,
    maxReceiveMessageBytes: limits.maxMessageBytes,
    dataDir: config.extra.TRAINER_DATA_DIR ?? '.sm-nas/trainer',
  });
  const lifecycle = runUntilSignal({ servers: [server], telemetry });
  // With NATS, the trainer also consumes the training work queue of searches.
  if (config.natsUrl) {
    const bus = await connectBus({
      servers: config.natsUrl,
      name: `trainer-${process.pid}`,
      ...(natsSecurity ? { security: natsSecurity } : {}),
    });
    const worker = await startTrainJobWorker({
      bus,
      trainerAddress: server.address,
      // With TLS on, this process's own server wants its client certificate too, and is verified
      // under the Service name its certificate carries.
      ...(security.tls
        ? { trainerCredentials: channelCredentials(security.clientTls), trainerChannelOptions: { 'grpc.ssl_target_name_override': SERVICE_NAME } }
        : {}),
      ...(config.extra.TRAINER_JOB_ACK_WAIT_SECONDS ? { ackWaitMs: config.extra.TRAINER_JOB_ACK_WAIT_SECONDS * 1000 } : {}),
    });
    lifecycle.onShutdown('train job worker', () => worker.stop());
    lifecycle.onShutdown('nats', () => bus.drain());
  }
});
