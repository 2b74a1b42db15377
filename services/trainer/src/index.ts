import { trainer } from '@sm-nas/proto';
import { protoset } from '@sm-nas/proto/protoset';
import { DEFAULT_PORTS, service, startServer, type RunningServer, type StartServerOptions } from '@sm-nas/service-kit';
import { trainerService, type TrainerServiceOptions } from './server.js';

export * from './safetensors.js';
export { runTrainJob, evaluateDetector, type TrainRuntime, decaysWeight, TRAIN_DEFAULTS, type TrainEvent, type TrainJobSpec, type DatasetSpec, type TrainProgressEvent } from './train-job.js';
export { trainerService, eventToWire, metricsToWire, type TrainerServiceOptions } from './server.js';
export { pretrainJobFromRequest, trainJobFromRequest } from './request.js';
export { runPretrainJob, cropObjects, type PretrainEvent, type PretrainJobSpec } from './pretrain-job.js';

export const SERVICE_NAME = 'trainer';
export const DEFAULT_PORT = DEFAULT_PORTS.trainer;

export function startTrainerServer(
  options: Pick<StartServerOptions, 'host' | 'port' | 'logger' | 'security' | 'maxReceiveMessageBytes'> & TrainerServiceOptions,
): Promise<RunningServer> {
  const { dataDir, run, runtime, ...server } = options;
  return startServer({
    serviceName: SERVICE_NAME,
    services: [service(trainer.TrainerServiceDefinition, trainerService({ dataDir, run, runtime }))],
    protoset,
    ...server,
  });
}
export { startTrainJobWorker, type TrainJobWorker, type TrainJobWorkerOptions } from './job-worker.js';
export { DEMO_FIDELITY, type DemoFidelity } from './demo-fidelity.js';
