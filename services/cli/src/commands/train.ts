import { architectureToWire } from '@sm-nas/arch/wire';
import type { BackendChoice } from '@sm-nas/tfjs-runtime/choice';
import { trainer } from '@sm-nas/proto';
import { readArchitectureArg } from '../arch-arg.js';
import type { TRAIN_OPTIONS } from '../command-table.js';
import type { OptionValues } from '../options.js';
import { withClient, type ServiceTarget } from '../client.js';

export type TrainOptions = OptionValues<typeof TRAIN_OPTIONS>;

/** `backend`: --backend, for a trainer started in this process. */
const trainerTarget = (backend: BackendChoice | undefined): ServiceTarget<typeof trainer.TrainerServiceDefinition> => ({
  definition: trainer.TrainerServiceDefinition,
  addrEnv: 'TRAINER_ADDR',
  // TensorFlow.js loads only when a trainer runs in this process.
  startLocal: async (options) =>
    (await import('@sm-nas/trainer')).startTrainerServer({ ...options, dataDir: '.sm-nas/trainer', ...(backend ? { runtime: { backend: { backend } } } : {}) }),
});

const LR_SCHEDULES = {
  constant: trainer.LrSchedule.LR_SCHEDULE_CONSTANT,
  cosine: trainer.LrSchedule.LR_SCHEDULE_COSINE,
} as const;

export async function trainCommand(archText: string | undefined, options: TrainOptions, log: (line: string) => void, backend?: BackendChoice): Promise<string> {
  const arch = readArchitectureArg(archText);
  const request: trainer.TrainRequest = {
    jobId: '',
    architecture: architectureToWire(arch),
    dataset: { source: { $case: 'builtin', value: { seed: options.seed, trainImages: options.images, valImages: 200, imageSizePx: 64 } } },
    schedule: trainer.TrainSchedule.fromPartial({
      init: options.pretrained ? trainer.InitMode.INIT_MODE_PRETRAINED : trainer.InitMode.INIT_MODE_SCRATCH,
      pretrainedWeightsPath: options.pretrained ?? '',
      batchSize: options.batch,
      learningRate: options.lr,
      lrSchedule: LR_SCHEDULES[options.schedule],
      weightDecay: 1e-4,
      seed: options.seed,
    }),
    fidelity: {
      inputScale: options['input-scale'] ?? 64 / Math.max(arch.input.widthPx, arch.input.heightPx),
      // Pretrained weights fix the width (torchvision's are full width); from scratch a quarter is quick.
      widthMultiplier: options.width ?? (options.pretrained ? 1 : 0.25),
      maxSteps: options.steps ?? 0,
      maxSeconds: options.seconds ?? (options.steps ? 0 : 60),
    },
  };
  return withClient(trainerTarget(backend), options.addr, async (client) => {
    let result: trainer.TrainResult | undefined;
    for await (const response of client.train(request)) {
      const event = response.event;
      if (event?.$case === 'progress') {
        const p = event.value;
        log(`step ${p.step}  loss ${p.loss.toFixed(4)}  ${p.imagesPerSecond.toFixed(1)} images/s  ${p.elapsedSeconds.toFixed(0)} s`);
      } else if (event?.$case === 'result') {
        result = event.value;
      }
    }
    if (!result) throw new Error('the trainer ended the stream without a result');
    if (options.json) return JSON.stringify(trainer.TrainResult.toJSON(result), null, 2);
    const m = result.metrics;
    const status = trainer.trainStatusToJSON(result.status).replace('TRAIN_STATUS_', '').toLowerCase();
    return [
      `${status}${result.failureReason ? `: ${result.failureReason}` : ''} after ${result.steps} steps (${result.trainSeconds.toFixed(1)} s of training, backend ${result.backend})`,
      m ? `AP ${m.ap.toFixed(3)}  AP50 ${m.ap50.toFixed(3)}  AP75 ${m.ap75.toFixed(3)}  AR@100 ${m.arMaxDets100.toFixed(3)}` : '',
      result.checkpointUri ? `checkpoint ${result.checkpointUri}` : '',
    ].filter(Boolean).join('\n');
  });
}
