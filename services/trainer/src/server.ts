// Handlers of nas.trainer.v1.TrainerService. One training at a time per process (training uses every
// core), later calls wait their turn; a job id seen before gets its stored result without training
// again, so a retried or redelivered job is never trained twice.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { trainer, type common } from '@sm-nas/proto';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { architectureId } from '@sm-nas/arch';
import { ATTR_NAS_ARCH_ID, ATTR_NAS_TRAIN_JOB_ID, ATTR_NAS_TRAIN_STATUS, DomainError } from '@sm-nas/service-kit';
import type { CocoSummary } from '@sm-nas/eval';
import type { ServiceImplementation } from 'nice-grpc';
import { pretrainJobFromRequest, trainJobFromRequest } from './request.js';
import { runPretrainJob } from './pretrain-job.js';
import { runTrainJob, type TrainEvent, type TrainJobSpec, type TrainRuntime } from './train-job.js';

export interface TrainerServiceOptions {
  /** Checkpoints and stored results live here; none kept if undefined. */
  dataDir?: string;
  /** Replaces the training run (tests of the service plumbing use the real one; this is for benches). */
  run?: (spec: TrainJobSpec, signal: AbortSignal) => AsyncGenerator<TrainEvent>;
  /** The backend settings and device lock from the process's configuration, for every run. */
  runtime?: TrainRuntime;
}

export function metricsToWire(m: CocoSummary | undefined): common.CocoMetrics | undefined {
  if (!m) return undefined;
  return {
    ap: m.ap,
    ap50: m.ap50,
    ap75: m.ap75,
    apSmall: m.apSmall,
    apMedium: m.apMedium,
    apLarge: m.apLarge,
    arMaxDets1: m.ar1,
    arMaxDets10: m.ar10,
    arMaxDets100: m.ar100,
    arSmall: m.arSmall,
    arMedium: m.arMedium,
    arLarge: m.arLarge,
  };
}

const STATUS: Record<'succeeded' | 'failed' | 'cancelled', trainer.TrainStatus> = {
  succeeded: trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED,
  failed: trainer.TrainStatus.TRAIN_STATUS_FAILED,
  cancelled: trainer.TrainStatus.TRAIN_STATUS_CANCELLED,
};

export function eventToWire(event: TrainEvent, spec: TrainJobSpec): trainer.TrainResponse {
  if (event.kind === 'progress') {
    return {
      event: {
        $case: 'progress',
        value: {
          step: event.step,
          maxSteps: event.maxSteps,
          loss: event.loss,
          lossComponents: event.components,
          imagesPerSecond: event.imagesPerSecond,
          elapsedSeconds: event.elapsedSeconds,
          validation: metricsToWire(event.validation),
        },
      },
    };
  }
  return {
    event: {
      $case: 'result',
      value: {
        jobId: event.jobId,
        architectureId: event.architectureId,
        status: STATUS[event.status],
        failureReason: event.failureReason,
        metrics: metricsToWire(event.metrics),
        steps: event.steps,
        trainSeconds: event.trainSeconds,
        fidelity: {
          inputScale: spec.inputScale,
          widthMultiplier: spec.widthMultiplier,
          maxSteps: spec.maxSteps,
          maxSeconds: spec.maxSeconds,
        },
        checkpointUri: event.checkpointPath ? pathToFileURL(resolve(event.checkpointPath)).href : '',
        backend: event.backend,
      },
    },
  };
}

/**
 * The trainer inside one process: what its gRPC handlers and its queue worker both call, so queued
 * jobs and direct calls share the one-run-at-a-time turn and the stored results.
 */
export interface Trainer {
  /** Streams a job's progress and ends with its result; throws a DomainError for a bad request. */
  train(request: trainer.TrainRequest, signal: AbortSignal): AsyncGenerator<trainer.TrainResponse>;
  pretrain(request: trainer.PretrainRequest, signal: AbortSignal): AsyncGenerator<trainer.PretrainResponse>;
}

// Looked up per call: a tracer provider registered after this module loaded (tests) still applies.
const tracer = () => trace.getTracer('@sm-nas/trainer');

export function createTrainer(options: TrainerServiceOptions = {}): Trainer {
  const run = options.run ?? ((spec: TrainJobSpec, signal: AbortSignal) => runTrainJob(spec, signal, options.runtime));
  const resultsDir = options.dataDir ? join(options.dataDir, 'results') : undefined;
  const checkpointDir = options.dataDir ? join(options.dataDir, 'checkpoints') : undefined;
  const finished = new Map<string, trainer.TrainResult>();
  const running = new Set<string>();
  let queue: Promise<unknown> = Promise.resolve();

  async function storedResult(jobId: string): Promise<trainer.TrainResult | undefined> {
    const known = finished.get(jobId);
    if (known || !resultsDir) return known;
    try {
      const result = trainer.TrainResult.fromJSON(JSON.parse(await readFile(join(resultsDir, `${jobId}.json`), 'utf8')));
      finished.set(jobId, result);
      return result;
    } catch {
      return undefined;
    }
  }

  async function storeResult(result: trainer.TrainResult): Promise<void> {
    // A cancelled run is not a result: the same job may be asked again.
    if (result.status === trainer.TrainStatus.TRAIN_STATUS_CANCELLED) return;
    finished.set(result.jobId, result);
    if (!resultsDir) return;
    await mkdir(resultsDir, { recursive: true });
    const path = join(resultsDir, `${result.jobId}.json`);
    await writeFile(`${path}.tmp`, JSON.stringify(trainer.TrainResult.toJSON(result)));
    await rename(`${path}.tmp`, path);
  }

  /** Waits for the runs ahead (training shares the cores with nothing); call the returned release when done. */
  async function takeTurn(signal: AbortSignal): Promise<() => void> {
    let release!: () => void;
    const turn = queue;
    queue = new Promise<void>((resolve) => (release = resolve));
    try {
      await turn;
      signal.throwIfAborted();
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  return {
    async *train(request, signal) {
      const spec = trainJobFromRequest(request, checkpointDir, () => randomUUID());
      const stored = await storedResult(spec.jobId);
      if (stored) {
        yield { event: { $case: 'result', value: stored } };
        return;
      }
      if (running.has(spec.jobId)) throw new DomainError('ALREADY_EXISTS', `job_id: job ${spec.jobId} is already training`);
      running.add(spec.jobId);
      try {
        const release = await takeTurn(signal);
        // One span over the run, in whatever trace asked for it (a queued job's or a gRPC call's).
        const span = tracer().startSpan('trainer.train', { attributes: { [ATTR_NAS_ARCH_ID]: architectureId(spec.arch), [ATTR_NAS_TRAIN_JOB_ID]: spec.jobId } });
        try {
          for await (const event of run(spec, signal)) {
            const wire = eventToWire(event, spec);
            if (wire.event?.$case === 'result') {
              await storeResult(wire.event.value);
              span.setAttribute(ATTR_NAS_TRAIN_STATUS, trainer.trainStatusToJSON(wire.event.value.status));
            }
            yield wire;
          }
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          throw err;
        } finally {
          span.end();
          release();
        }
      } finally {
        running.delete(spec.jobId);
      }
    },

    async *pretrain(request, signal) {
      const spec = pretrainJobFromRequest(request, options.dataDir, () => randomUUID());
      const release = await takeTurn(signal);
      try {
        for await (const event of runPretrainJob(spec, signal, options.runtime?.backend)) {
          if (event.kind === 'progress') {
            yield {
              event: {
                $case: 'progress',
                value: trainer.TrainProgress.fromPartial({
                  step: event.step,
                  maxSteps: event.maxSteps,
                  loss: event.loss,
                  imagesPerSecond: event.imagesPerSecond,
                  elapsedSeconds: event.elapsedSeconds,
                }),
              },
            };
          } else {
            yield {
              event: {
                $case: 'result',
                value: {
                  jobId: event.jobId,
                  status: STATUS[event.status],
                  failureReason: event.failureReason,
                  weightsPath: event.weightsPath,
                  top1Accuracy: event.top1Accuracy,
                },
              },
            };
          }
        }
      } finally {
        release();
      }
    },
  };
}

/** The gRPC handlers of nas.trainer.v1.TrainerService over a process's Trainer. */
export function trainerService(core: Trainer): ServiceImplementation<typeof trainer.TrainerServiceDefinition> {
  return {
    train: (request, context) => core.train(request, context.signal),
    pretrain: (request, context) => core.pretrain(request, context.signal),
  };
}
