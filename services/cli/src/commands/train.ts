import { architectureToWire } from '@sm-nas/arch/wire';
import { trainer } from '@sm-nas/proto';
import { readArchitectureArg, readSeedArg, UsageError } from '../arch-arg.js';
import { withClient, type ServiceTarget } from '../client.js';

export const TRAIN_USAGE = `sm-nas train ARCH [--steps N] [--seconds S] [--input-scale F] [--width F] [--batch N]
                [--lr F] [--schedule constant|cosine] [--seed N] [--images N] [--pretrained FILE] [--addr HOST:PORT | --backend B] [--json]
  Trains ARCH from scratch (or from a torchvision-named safetensors backbone) on the built-in
  dataset at a proxy fidelity and prints the COCO metrics of the validation split. --backend
  (auto, webgpu, wasm, cpu, tensorflow) picks the in-process trainer's tfjs backend.`;

export interface TrainOptions {
  steps?: string;
  seconds?: string;
  'input-scale'?: string;
  width?: string;
  batch?: string;
  lr?: string;
  schedule?: string;
  seed?: string;
  images?: string;
  pretrained?: string;
  addr?: string;
  json?: boolean;
}

const trainerTarget: ServiceTarget<typeof trainer.TrainerServiceDefinition> = {
  definition: trainer.TrainerServiceDefinition,
  addrEnv: 'TRAINER_ADDR',
  // TensorFlow.js loads only when a trainer runs in this process.
  startLocal: async (options) => (await import('@sm-nas/trainer')).startTrainerServer({ ...options, dataDir: '.sm-nas/trainer' }),
};

function num(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new UsageError(`${flag}: expected a non-negative number, got "${text}"`);
  return value;
}

const LR_SCHEDULES: Record<string, trainer.LrSchedule> = {
  constant: trainer.LrSchedule.LR_SCHEDULE_CONSTANT,
  cosine: trainer.LrSchedule.LR_SCHEDULE_COSINE,
};

export async function trainCommand(archText: string | undefined, options: TrainOptions, log: (line: string) => void): Promise<string> {
  const arch = readArchitectureArg(archText);
  const lrSchedule = LR_SCHEDULES[options.schedule ?? 'constant'];
  if (lrSchedule === undefined) throw new UsageError(`--schedule: one of ${Object.keys(LR_SCHEDULES).join(', ')}, got "${options.schedule}"`);
  const request: trainer.TrainRequest = {
    jobId: '',
    architecture: architectureToWire(arch),
    dataset: { source: { $case: 'builtin', value: { seed: readSeedArg(options.seed, '--seed', 0n), trainImages: num(options.images, '--images', 1000), valImages: 200, imageSizePx: 64 } } },
    schedule: trainer.TrainSchedule.fromPartial({
      init: options.pretrained ? trainer.InitMode.INIT_MODE_PRETRAINED : trainer.InitMode.INIT_MODE_SCRATCH,
      pretrainedWeightsPath: options.pretrained ?? '',
      batchSize: num(options.batch, '--batch', 8),
      learningRate: num(options.lr, '--lr', 1e-3),
      lrSchedule,
      weightDecay: 1e-4,
      seed: readSeedArg(options.seed, '--seed', 0n),
    }),
    fidelity: {
      inputScale: num(options['input-scale'], '--input-scale', 64 / Math.max(arch.input.widthPx, arch.input.heightPx)),
      // Pretrained weights fix the width (torchvision's are full width); from scratch a quarter is quick.
      widthMultiplier: num(options.width, '--width', options.pretrained ? 1 : 0.25),
      maxSteps: num(options.steps, '--steps', 0),
      maxSeconds: num(options.seconds, '--seconds', options.steps ? 0 : 60),
    },
  };
  return withClient(trainerTarget, options.addr, async (client) => {
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
