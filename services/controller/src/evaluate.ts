// One candidate's evaluation, inside its `candidate.evaluate` span (so the whole evaluation is one
// trace across services): validation by the searchspace service, FLOPs by the flops service,
// latency by a profiler of the search's hardware class over NATS (structural stage; the modular
// stage's objective is FLOPs), then training through the durable work queue, whose result comes
// back through the journal. Idempotent: re-run after a controller restart, the FLOPs and the
// latency are served again (the profiler caches), the training job is de-duplicated by its id, and
// a result already in the journal is used as it is.
import { trainJob, type Bus } from '@sm-nas/bus';
import { common, controller, trainer, type profiler } from '@sm-nas/proto';
import { withRetry, type ServiceClients } from './clients.js';

const { CandidateState } = controller;

export interface EvaluationContext {
  searchId: string;
  spec: controller.SearchSpec;
  clients: ServiceClients;
  bus: Bus;
  /** Resolves with the trainer's result for the candidate once the journal has it. */
  trainResult(candidateId: string): Promise<trainer.TrainResult>;
  log(message: string): void;
  /** The validation curve seen so far in the candidate's training progress. */
  curve(candidateId: string): controller.ValidationPoint[];
  /** Aborted when the controller shuts down: retries stop. */
  signal: AbortSignal;
}

/** Settings of the latency measurements when the spec gives none: quick enough for a local demo. */
export const DEFAULT_PROFILE_SETTINGS: profiler.ProfileSettings = {
  targetCoefficientOfVariation: 0.05,
  maxSeconds: 10,
  iterationsPerRound: 5,
};

export function trainJobId(searchId: string, candidateId: string): string {
  return `${searchId}.${candidateId}`;
}

function failed(candidate: controller.Candidate, reason: string, metrics?: controller.CandidateMetrics): controller.Candidate {
  return { ...candidate, state: CandidateState.CANDIDATE_STATE_FAILED, failureReason: reason, metrics };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Evaluates a proposed candidate; never throws for a candidate-level failure (it is a FAILED candidate). */
export async function evaluateCandidate(ctx: EvaluationContext, candidate: controller.Candidate): Promise<controller.Candidate> {
  const architecture = candidate.architecture?.architecture;
  if (!architecture) return failed(candidate, 'architecture: missing');
  const retry = (what: string) => ({
    signal: ctx.signal,
    onRetry: (err: unknown, attempt: number) => {
      if (attempt === 1 || attempt % 10 === 0) ctx.log(`${candidate.candidateId}: ${what}: ${messageOf(err)}; retrying`);
    },
  });

  let described: common.DescribedArchitecture | undefined;
  try {
    described = (await withRetry(() => ctx.clients.searchspace.validate({ architecture, stage: common.SearchStage.SEARCH_STAGE_UNSPECIFIED }), retry('searchspace'))).architecture;
  } catch (err) {
    return failed(candidate, `invalid architecture: ${messageOf(err)}`);
  }

  const metrics: controller.CandidateMetrics = {
    accuracy: undefined,
    latency: undefined,
    flopsMultiplyAdds: 0,
    params: 0,
    fidelity: ctx.spec.fidelity,
    trainSeconds: 0,
    validationCurve: [],
  };
  try {
    const counted = await withRetry(() => ctx.clients.flops.count({ architecture, input: undefined, form: 0, numClasses: 0, proposals: 0 }), retry('flops'));
    metrics.flopsMultiplyAdds = counted.flopsMultiplyAdds;
    metrics.params = counted.params;
  } catch (err) {
    return failed(candidate, `flops: ${messageOf(err)}`, metrics);
  }

  if (candidate.stage === common.SearchStage.SEARCH_STAGE_STRUCTURAL) {
    const settings = ctx.spec.profiling ?? DEFAULT_PROFILE_SETTINGS;
    const timeoutMs = ((settings.maxSeconds || 60) * 2 + 60) * 1000;
    try {
      const profiled = await withRetry(
        () => ctx.clients.profile({ architecture, hardwareClass: ctx.spec.hardwareClass, input: undefined, batchSize: 1, settings, bypassCache: false }, timeoutMs),
        { maxMs: 30 * 60_000, ...retry(`profiler ${ctx.spec.hardwareClass}`) },
      );
      metrics.latency = profiled.latency;
    } catch (err) {
      return failed(candidate, `profiler: ${messageOf(err)}`, metrics);
    }
  }

  const jobId = trainJobId(ctx.searchId, candidate.candidateId);
  const request: trainer.TrainRequest = {
    jobId,
    architecture: described?.architecture ?? architecture,
    dataset: ctx.spec.dataset,
    schedule: ctx.spec.schedule,
    fidelity: ctx.spec.fidelity,
  };
  // The result may be in the journal already (a restart after the trainer finished): no new job then.
  const pending = ctx.trainResult(candidate.candidateId);
  const already = await Promise.race([pending, Promise.resolve(undefined)]);
  if (!already) {
    await withRetry(
      () => ctx.bus.publishDurable(trainJob, { searchId: ctx.searchId, candidateId: candidate.candidateId, request }, { msgId: jobId, timeoutMs: 5000 }),
      { maxMs: Number.POSITIVE_INFINITY, retryAll: true, ...retry('train job publish') },
    );
  }
  const result = await pending;
  metrics.accuracy = result.metrics;
  metrics.trainSeconds = result.trainSeconds;
  metrics.validationCurve = ctx.curve(candidate.candidateId);
  if (result.fidelity) metrics.fidelity = result.fidelity;
  if (result.status === trainer.TrainStatus.TRAIN_STATUS_CANCELLED && result.failureReason.startsWith('stopped early')) {
    return { ...candidate, architecture: described ?? candidate.architecture, state: CandidateState.CANDIDATE_STATE_EARLY_STOPPED, metrics, checkpointUri: '', failureReason: result.failureReason };
  }
  if (result.status !== trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED) {
    return failed(candidate, `training ${trainer.trainStatusToJSON(result.status).replace('TRAIN_STATUS_', '').toLowerCase()}: ${result.failureReason}`, metrics);
  }
  return {
    ...candidate,
    architecture: described ?? candidate.architecture,
    state: CandidateState.CANDIDATE_STATE_SUCCEEDED,
    metrics,
    checkpointUri: result.checkpointUri,
    failureReason: '',
  };
}
