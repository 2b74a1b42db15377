import { connectBus } from '@sm-nas/bus';
import { DeviceLock, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { loadTrainerConfig } from './config.js';
import { createTrainer, startTrainerServer } from './index.js';
import { startTrainJobWorker } from './job-worker.js';

await runMain(async () => {
  // Every variable, the tfjs backend's included, checked before anything starts (config.ts).
  const config = loadTrainerConfig();
  const { security, limits } = config;
  const telemetry = startTelemetry(config.telemetry);
  // One Trainer for the gRPC service and the queue worker: they share its one-run-at-a-time turn.
  const trainer = createTrainer({
    dataDir: config.own.TRAINER_DATA_DIR ?? '.sm-nas/trainer',
    runtime: {
      backend: config.backend,
      device: config.deviceLock ? new DeviceLock(config.deviceLock) : undefined,
    },
  });
  const server = await startTrainerServer({
    host: config.listen.host,
    port: config.listen.port,
    security,
    maxReceiveMessageBytes: limits.maxMessageBytes,
    trainer,
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
      trainer,
      ...(config.own.TRAINER_JOB_ACK_WAIT_SECONDS ? { ackWaitMs: config.own.TRAINER_JOB_ACK_WAIT_SECONDS * 1000 } : {}),
    });
    lifecycle.onShutdown('train job worker', () => worker.stop());
    lifecycle.onShutdown('nats', () => bus.drain());
  }
});
