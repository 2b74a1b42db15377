import { connectBus } from '@sm-nas/bus';
import { DeviceLock, channelCredentials, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { loadTrainerConfig } from './config.js';
import { SERVICE_NAME, startTrainerServer } from './index.js';
import { startTrainJobWorker } from './job-worker.js';

await runMain(async () => {
  // Every variable, the tfjs backend's included, checked before anything starts (config.ts).
  const config = loadTrainerConfig();
  const { security, limits } = config;
  const telemetry = startTelemetry(config.telemetry);
  const server = await startTrainerServer({
    host: config.listen.host,
    port: config.listen.port,
    security,
    maxReceiveMessageBytes: limits.maxMessageBytes,
    dataDir: config.own.TRAINER_DATA_DIR ?? '.sm-nas/trainer',
    runtime: {
      backend: config.backend,
      device: config.deviceLock ? new DeviceLock(config.deviceLock) : undefined,
    },
  });
  const lifecycle = runUntilSignal({ servers: [server], telemetry });
  // With NATS, the trainer also consumes the training work queue of searches.
  if (config.nats.url) {
    const bus = await connectBus({
      servers: config.nats.url,
      name: `trainer-${process.pid}`,
      ...(config.nats.security ? { security: config.nats.security } : {}),
    });
    const worker = await startTrainJobWorker({
      bus,
      trainerAddress: server.address,
      // With TLS on, this process's own server wants its client certificate too, and is verified
      // under the Service name its certificate carries.
      ...(security.tls
        ? { trainerCredentials: channelCredentials(security.clientTls), trainerChannelOptions: { 'grpc.ssl_target_name_override': SERVICE_NAME } }
        : {}),
      ...(config.own.TRAINER_JOB_ACK_WAIT_SECONDS ? { ackWaitMs: config.own.TRAINER_JOB_ACK_WAIT_SECONDS * 1000 } : {}),
    });
    lifecycle.onShutdown('train job worker', () => worker.stop());
    lifecycle.onShutdown('nats', () => bus.drain());
  }
});
