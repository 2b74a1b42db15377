// The trainer as a consumer of the durable training work queue (NAS_TRAIN_JOBS, durable
// "trainers"): any number of trainer processes take jobs from it, one at a time each. A job is
// trained by this process's Trainer, the one its Train RPC calls (so queued jobs and direct gRPC
// calls share its one-run-at-a-time turn, and the trace goes queue -> training), its result is stored in the
// KV bucket nas-train-results by job id, published on nas.train.result.{searchId} (de-duplicated by
// the job id), and only then acked. A trainer that dies mid-job never acks: JetStream redelivers the
// job to another after the ack wait. A redelivered job whose result is already stored is answered
// from the store, so no job is trained twice once it has a result.
import { BusRequestError, ensurePipelineStreams, ensureTrainersConsumer, KV_BUCKETS, protoCodec, retryOverBus, STREAMS, trainJob, trainJobCancel, trainJobProgress, trainJobResult, TRAINERS_DURABLE, type Bus, type Consumption, type JetStreamDelivery } from '@sm-nas/bus';
import { events, trainer } from '@sm-nas/proto';
import { DomainError } from '@sm-nas/service-kit';
import type { Trainer } from './server.js';

export interface TrainJobWorkerOptions {
  bus: Bus;
  /** What trains the jobs: the process's Trainer, the one its TrainerService serves. */
  trainer: Pick<Trainer, 'train'>;
  /** A job silent (no progress) for this long is given to another trainer; default 60 s. */
  ackWaitMs?: number;
  /** After this many deliveries a job is answered with a FAILED result instead of trained again. */
  maxDeliveries?: number;
  logger?: { info(message: string): void; error(message: string): void };
}

export interface TrainJobWorker {
  stop(): Promise<void>;
}

const DEFAULT_ACK_WAIT_MS = 60_000;
const DEFAULT_MAX_DELIVERIES = 5;
/** Lets timers and socket I/O (heartbeats, NATS pings) run between synchronous training steps. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function startTrainJobWorker(options: TrainJobWorkerOptions): Promise<TrainJobWorker> {
  const { bus } = options;
  const logger = options.logger ?? console;
  const ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const maxDeliveries = options.maxDeliveries ?? DEFAULT_MAX_DELIVERIES;
  await ensurePipelineStreams(bus);
  await ensureTrainersConsumer(bus, ackWaitMs);
  // History kept so a job stored twice (trained twice) would show: the kill tests check it never is.
  const results = await bus.kv(KV_BUCKETS.trainResults, protoCodec(events.TrainJobResult), { history: 5 });
  const abort = new AbortController();
  // The job being trained, which a TrainJobCancel (median early stopping) may stop.
  let current: { jobId: string; stop: AbortController; reason: string | undefined } | undefined;
  const cancels = bus.subscribe(trainJobCancel, (cancel) => {
    if (current && cancel.jobId === current.jobId) {
      current.reason = cancel.reason || 'cancelled by the controller';
      current.stop.abort();
    }
  });

  async function publish(result: events.TrainJobResult): Promise<void> {
    await bus.publishDurable(trainJobResult.to({ searchId: result.searchId }), result, { msgId: result.result?.jobId ?? `${result.searchId}.${result.candidateId}` });
  }

  async function handle(job: events.TrainJob, delivery: JetStreamDelivery): Promise<void> {
    const jobId = job.request?.jobId ?? '';
    if (!job.request || !jobId) {
      logger.error(`train job ${delivery.msgId ?? '?'}: no request or job id; dropped`);
      delivery.term();
      return;
    }
    const stored = await results.get(jobId);
    if (stored) {
      // Trained before (by this or another trainer that died before acking): answer, do not retrain.
      await publish(stored);
      delivery.ack();
      return;
    }
    if (delivery.deliveryCount > maxDeliveries) {
      const failed: events.TrainJobResult = {
        searchId: job.searchId,
        candidateId: job.candidateId,
        final: job.final,
        result: trainer.TrainResult.fromPartial({
          jobId,
          status: trainer.TrainStatus.TRAIN_STATUS_FAILED,
          failureReason: `given up after ${delivery.deliveryCount - 1} deliveries without a result (trainers died or timed out on it)`,
        }),
      };
      await results.put(jobId, failed);
      await publish(failed);
      delivery.ack();
      return;
    }
    logger.info(`trainer: job ${jobId} (delivery ${delivery.deliveryCount})`);
    // Heartbeats keep the job ours while it trains; progress events add one each.
    const heartbeat = setInterval(() => delivery.working(), Math.max(500, ackWaitMs / 3));
    let result: trainer.TrainResult | undefined;
    const job$ = { jobId, stop: new AbortController(), reason: undefined as string | undefined };
    current = job$;
    try {
      for await (const response of options.trainer.train(job.request, AbortSignal.any([abort.signal, job$.stop.signal]))) {
        if (response.event?.$case === 'result') {
          result = response.event.value;
        } else {
          delivery.working();
          const progress = response.event?.value;
          if (progress?.validation) {
            void bus.publish(trainJobProgress.to({ searchId: job.searchId }), { searchId: job.searchId, candidateId: job.candidateId, final: job.final, jobId, progress }).catch(() => {});
          }
        }
        await yieldToEventLoop();
      }
    } catch (err) {
      if (abort.signal.aborted) {
        // This trainer is shutting down: another trainer takes the job.
        delivery.nak();
        return;
      }
      if (job$.reason) {
        // Stopped early on purpose (below).
      } else if (err instanceof DomainError && err.code === 'INVALID_ARGUMENT') {
        // The request itself is wrong: training it again would fail again.
        result = trainer.TrainResult.fromPartial({ jobId, status: trainer.TrainStatus.TRAIN_STATUS_FAILED, failureReason: `invalid request: ${err.message}` });
      } else {
        // Already training here (a redelivery while it runs), or the run broke: try again later.
        logger.error(`trainer: job ${jobId}: ${err instanceof Error ? err.message : String(err)}; redelivering`);
        delivery.nak(2000);
        return;
      }
    } finally {
      clearInterval(heartbeat);
      current = undefined;
    }
    if (job$.reason) {
      // Stopped early on purpose: that is this job's result, not a reason to train it again.
      result = trainer.TrainResult.fromPartial({ ...result, jobId, status: trainer.TrainStatus.TRAIN_STATUS_CANCELLED, failureReason: `stopped early: ${job$.reason}` });
    }
    if (!result || (result.status === trainer.TrainStatus.TRAIN_STATUS_CANCELLED && !job$.reason)) {
      // Cancelled (this trainer is shutting down): another trainer takes it.
      delivery.nak();
      return;
    }
    const message: events.TrainJobResult = { searchId: job.searchId, candidateId: job.candidateId, final: job.final, result };
    await publishUntilStored(async () => void (await results.put(jobId, message)), abort.signal);
    await publishUntilStored(() => publish(message), abort.signal);
    delivery.ack();
  }

  const consumption: Consumption = await bus.consume(STREAMS.trainJobs.name, TRAINERS_DURABLE, trainJob, handle, { ack: 'manual' });
  logger.info(`trainer: consuming ${STREAMS.trainJobs.name} as ${TRAINERS_DURABLE} (ack wait ${ackWaitMs} ms)`);
  return {
    async stop() {
      abort.abort();
      cancels.unsubscribe();
      await consumption.stop();
    },
  };
}

/**
 * nats-server may be restarting when a result is ready: keep trying, the result is not lost. Once
 * the worker is stopping, only a BusRequestError is tried again; anything else (the connection
 * closing under it) ends the attempt.
 */
async function publishUntilStored(publish: () => Promise<void>, signal: AbortSignal): Promise<void> {
  await retryOverBus(publish, { retryIf: (err) => !signal.aborted || err instanceof BusRequestError, baseDelayMs: 100, maxDelayMs: 2000 });
}
