// One candidate's evaluation, inside its `candidate.evaluate` span (so the whole evaluation is one
// trace across services): FLOPs by the flops service,
// latency by a profiler of the search's hardware class over NATS (structural stage; the modular
// stage's objective is FLOPs), then training through the durable work queue, whose result comes
// back through the journal. Idempotent: re-run after a controller restart, the FLOPs and the
// latency are served again (the profiler caches), the training job is de-duplicated by its id, and
// a result already in the journal is used as it is.
//
// A stopping search abandons the waits before training (a profiler that does not exist would keep it
// STOPPING for good); a force-stopped one abandons the training wait too. Either way the candidate
// comes back FAILED with the reason, so no candidate of an ended search is left in flight.
import { idOfCanonical } from '@sm-nas/arch';
import { BusRequestError, retryOverBus, trainJob, type Bus } from '@sm-nas/bus';
import { common, controller, trainer, type events, type profiler } from '@sm-nas/proto';
import type { ServiceCallOptions } from '@sm-nas/service-kit';
import type { ServiceClients } from './clients.js';

const { CandidateState } = controller;

export interface EvaluationContext {
  searchId: string;
  spec: controller.SearchSpec;
  clients: ServiceClients;
  bus: Bus;
  /** Resolves with the trainer's result for the candidate once the journal has it. */
  trainResult(candidateId: string): Promise<trainer.TrainResult>;
  log(message: string): void;
  /** The candidate's validation curve from its training progress, once the progress already received is journaled. */
  curve(candidateId: string): Promise<controller.ValidationPoint[]>;
  /** Aborted when the controller shuts down: retries stop, and the evaluation throws (the next controller resumes it). */
  signal: AbortSignal;
  /** Aborted when the search is stopping: the waits before training end (the candidate FAILED). */
  stopping: AbortSignal;
  /** Aborted when the search is force-stopped: the training wait ends too. */
  cancelled: AbortSignal;
  /** How long to wait for a profiler of the class to exist before the search fails. */
  profilerWaitMs: number;
  /** Journals the candidate as EVALUATING with what is known before its training (FLOPs, latency). */
  evaluating(candidate: controller.Candidate): Promise<void>;
}

export interface Evaluation {
  candidate: controller.Candidate;
  /** Set when the search itself cannot go on (no profiler of its class): why. */
  searchFailure?: string;
}

/** No profiler of the search's class subscribed for the whole wait. */
class NoProfilerError extends Error {
  override name = 'NoProfilerError';
}

function abortReason(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
}

/** Settings of the latency measurements when the spec gives none: quick enough for a local demo. */
export const DEFAULT_PROFILE_SETTINGS: profiler.ProfileSettings = {
  targetCoefficientOfVariation: 0.05,
  maxSeconds: 10,
  iterationsPerRound: 5,
};

/**
 * Puts a training job on the work queue, retried until it is stored or `signal` aborts. Repeating
 * is safe (the job id de-duplicates it) and needed: the job must reach the queue.
 */
export async function publishTrainJob(bus: Bus, job: events.TrainJob, signal: AbortSignal, onRetry?: (err: unknown, attempt: number) => void): Promise<void> {
  await retryOverBus(() => bus.publishDurable(trainJob, job, { msgId: job.request!.jobId, timeoutMs: 5000 }), { retryIf: () => true, onRetry, signal });
}

/** `pending`, or a rejection with the signal's reason once it aborts. */
export function untilAborted<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const abort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

export function trainJobId(searchId: string, candidateId: string): string {
  return `${searchId}.${candidateId}`;
}

function failed(candidate: controller.Candidate, reason: string, metrics?: controller.CandidateMetrics): controller.Candidate {
  return { ...candidate, state: CandidateState.CANDIDATE_STATE_FAILED, failureReason: reason, metrics };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Evaluates a proposed candidate; never throws for a candidate-level failure (it is a FAILED
 * candidate), nor for a stopped search; throws when the controller shuts down.
 */
export async function evaluateCandidate(ctx: EvaluationContext, candidate: controller.Candidate): Promise<Evaluation> {
  const waits = AbortSignal.any([ctx.signal, ctx.stopping, ctx.cancelled]);
  try {
    return await evaluate(ctx, candidate, waits);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    for (const s of [ctx.cancelled, ctx.stopping]) {
      if (s.aborted) return { candidate: failed(candidate, abortReason(s)) };
    }
    throw err;
  }
}

async function evaluate(ctx: EvaluationContext, candidate: controller.Candidate, waits: AbortSignal): Promise<Evaluation> {
  const done = (c: controller.Candidate): Evaluation => ({ candidate: c });
  // Validated once, where it entered the search (an initial architecture or a suggestion, in
  // core.ts): what travels on is the canonical form, checked here only against its own id.
  const described = candidate.architecture;
  const architecture = described?.architecture;
  if (!described || !architecture) return done(failed(candidate, 'architecture: missing'));
  if (idOfCanonical(described.canonical) !== described.id) {
    return done(failed(candidate, `architecture: id ${described.id} is not the id of its canonical string ${JSON.stringify(described.canonical)}`));
  }
  const logRetry = (what: string) => (err: unknown, attempt: number) => {
    if (attempt === 1 || attempt % 10 === 0) ctx.log(`${candidate.candidateId}: ${what}: ${messageOf(err)}; retrying`);
  };
  // gRPC calls: retried by the clients' middleware (the methods are idempotent), stopped by `waits`.
  const grpc = (what: string): ServiceCallOptions => ({
    signal: waits,
    onRetryableError: (err, attempt) => logRetry(what)(err, attempt + 1),
  });
  const retry: Retry = { grpc, logRetry };

  // Journaled as EVALUATING before a restart: measured and handed to training; only the training
  // is left, and a stopping search lets it finish (StopSearch ends only the waits before training).
  let metrics: controller.CandidateMetrics;
  const handedOver = candidate.state === CandidateState.CANDIDATE_STATE_EVALUATING && candidate.metrics !== undefined;
  if (handedOver) {
    metrics = { ...candidate.metrics!, validationCurve: [] };
  } else {
    const measured = await measure(ctx, candidate, architecture, waits, retry);
    if ('failure' in measured) return measured.failure;
    ({ metrics } = measured);
    waits.throwIfAborted();
  }

  const jobId = trainJobId(ctx.searchId, candidate.candidateId);
  const request: trainer.TrainRequest = {
    jobId,
    architecture,
    dataset: ctx.spec.dataset,
    schedule: ctx.spec.schedule,
    fidelity: ctx.spec.fidelity,
  };
  // The result may be in the journal already (a restart after the trainer finished): no new job then.
  const pending = ctx.trainResult(candidate.candidateId);
  const already = await Promise.race([pending, Promise.resolve(undefined)]);
  // From EVALUATING on only a force stop (or the shutdown) ends the wait: a stopping search lets
  // its trainings finish.
  const trainingWait = AbortSignal.any([ctx.signal, ctx.cancelled]);
  if (!already) {
    if (!handedOver) await ctx.evaluating({ ...candidate, state: CandidateState.CANDIDATE_STATE_EVALUATING, metrics });
    await publishTrainJob(ctx.bus, { searchId: ctx.searchId, candidateId: candidate.candidateId, final: false, request }, trainingWait, retry.logRetry('train job publish'));
  }
  const result = await untilAborted(pending, trainingWait);
  metrics.accuracy = result.metrics;
  metrics.trainSeconds = result.trainSeconds;
  metrics.validationCurve = await ctx.curve(candidate.candidateId);
  if (result.fidelity) metrics.fidelity = result.fidelity;
  if (result.status === trainer.TrainStatus.TRAIN_STATUS_CANCELLED && result.failureReason.startsWith('stopped early')) {
    return done({ ...candidate, state: CandidateState.CANDIDATE_STATE_EARLY_STOPPED, metrics, checkpointUri: '', failureReason: result.failureReason });
  }
  if (result.status !== trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED) {
    return done(failed(candidate, `training ${trainer.trainStatusToJSON(result.status).replace('TRAIN_STATUS_', '').toLowerCase()}: ${result.failureReason}`, metrics));
  }
  return done({
    ...candidate,
    state: CandidateState.CANDIDATE_STATE_SUCCEEDED,
    metrics,
    checkpointUri: result.checkpointUri,
    failureReason: '',
  });
}

interface Retry {
  /** Options of an idempotent gRPC call, retried by the client middleware. */
  grpc(what: string): ServiceCallOptions;
  /** Logs the first retry of `what` and every tenth. */
  logRetry(what: string): (err: unknown, attempt: number) => void;
}

/** What is known before training: FLOPs and (structural stage) latency. */
async function measure(
  ctx: EvaluationContext,
  candidate: controller.Candidate,
  architecture: common.Architecture,
  waits: AbortSignal,
  retry: Retry,
): Promise<{ metrics: controller.CandidateMetrics } | { failure: Evaluation }> {
  const metrics: controller.CandidateMetrics = {
    accuracy: undefined,
    latency: undefined,
    flopsMultiplyAdds: 0n,
    params: 0n,
    fidelity: ctx.spec.fidelity,
    trainSeconds: 0,
    validationCurve: [],
  };
  try {
    const counted = await ctx.clients.flops.count({ architecture, input: undefined, form: 0, numClasses: 0, proposals: 0 }, retry.grpc('flops'));
    metrics.flopsMultiplyAdds = counted.flopsMultiplyAdds;
    metrics.params = counted.params;
  } catch (err) {
    waits.throwIfAborted();
    return { failure: { candidate: failed(candidate, `flops: ${messageOf(err)}`, metrics) } };
  }

  if (candidate.stage === common.SearchStage.SEARCH_STAGE_STRUCTURAL) {
    const settings = ctx.spec.profiling ?? DEFAULT_PROFILE_SETTINGS;
    const timeoutMs = ((settings.maxSeconds || 60) * 2 + 60) * 1000;
    // A profiler that is busy or restarting is waited for (30 minutes); a class nobody subscribes
    // to at all, for the search's profiler wait, and then the search fails: no candidate of it
    // could ever be measured.
    let unservedSince: number | undefined;
    const profile = async () => {
      try {
        const response = await ctx.clients.profile({ architecture, hardwareClass: ctx.spec.hardwareClass, input: undefined, batchSize: 1, settings, bypassCache: false }, timeoutMs);
        unservedSince = undefined;
        return response;
      } catch (err) {
        if (!(err instanceof BusRequestError && err.noResponders)) {
          unservedSince = undefined;
          throw err;
        }
        unservedSince ??= Date.now();
        if (Date.now() - unservedSince < ctx.profilerWaitMs) throw err;
        throw new NoProfilerError(
          `no profiler serves hardware class ${JSON.stringify(ctx.spec.hardwareClass)} (none answered for ${Math.round(ctx.profilerWaitMs / 1000)} s); ` +
            'deploy one for this class (ProfilerService.Describe names a profiler\'s class), then ResumeSearch',
        );
      }
    };
    try {
      // Profile requests are idempotent (the profiler caches by architecture and settings).
      const profiled = await retryOverBus(profile, { maxMs: 30 * 60_000, signal: waits, onRetry: retry.logRetry(`profiler ${ctx.spec.hardwareClass}`) });
      metrics.latency = profiled.latency;
    } catch (err) {
      waits.throwIfAborted();
      if (err instanceof NoProfilerError) return { failure: { candidate: failed(candidate, err.message, metrics), searchFailure: err.message } };
      return { failure: { candidate: failed(candidate, `profiler: ${messageOf(err)}`, metrics) } };
    }
  }
  return { metrics };
}
