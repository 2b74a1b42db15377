import { trainer } from '@sm-nas/proto';
import { protoset } from '@sm-nas/proto/protoset';
import { DEFAULT_PORTS, service, startServer, type RunningServer, type StartServerOptions } from '@sm-nas/service-kit';
import { createTrainer, trainerService, type Trainer, type TrainerServiceOptions } from './server.js';

export * from './safetensors.js';
export { runTrainJob, evaluateDetector, type TrainRuntime, decaysWeight, TRAIN_DEFAULTS, type TrainEvent, type TrainJobSpec, type DatasetSpec, type TrainProgressEvent } from './train-job.js';
export { createTrainer, trainerService, eventToWire, metricsToWire, type Trainer, type TrainerServiceOptions } from './server.js';
export { pretrainJobFromRequest, trainJobFromRequest } from './request.js';
export { runPretrainJob, cropObjects, type PretrainEvent, type PretrainJobSpec } from './pretrain-job.js';

export const SERVICE_NAME = 'trainer';
export const DEFAULT_PORT = DEFAULT_PORTS.trainer;

/** The TrainerService over `trainer` (the process's, shared with its queue worker), or over a new one made from the options. */
export function startTrainerServer(
  options: Pick<StartServerOptions, 'host' | 'port' | 'logger' | 'security' | 'maxReceiveMessageBytes'> & TrainerServiceOptions & { trainer?: Trainer },
): Promise<RunningServer> {
  const { dataDir, run, runtime, trainer: core, ...server } = options;
  return startServer({
    serviceName: SERVICE_NAME,
    services: [service(trainer.TrainerServiceDefinition, trainerService(core ?? createTrainer({ dataDir, run, runtime })))],
    protoset,
    ...server,
  });
}
export { startTrainJobWorker, type TrainJobWorker, type TrainJobWorkerOptions } from './job-worker.js';
export { DEMO_FIDELITY, type DemoFidelity } from './demo-fidelity.js';
