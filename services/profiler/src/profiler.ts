// The profiler of one hardware class: request checks (INVALID_ARGUMENT naming the field), the cache,
// one measurement at a time, and the class's latency predictor. The gRPC handlers and the NATS
// responder both call this, so both paths share the queue and the cache.
import { trace } from '@opentelemetry/api';
import { architectureId, parseCanonical, toCanonical, validateArchitecture, validateInputSize, type Architecture, type InputSize } from '@sm-nas/arch';
import { architectureFromWire, withFieldPrefix } from '@sm-nas/arch/wire';
import { hardwareClassProblem } from '@sm-nas/bus';
import { profiler, type common } from '@sm-nas/proto';
import {
  ATTR_NAS_ARCH_ID,
  ATTR_NAS_BATCH_SIZE,
  ATTR_NAS_HARDWARE_CLASS,
  ATTR_NAS_INPUT_SIZE,
  ATTR_NAS_LATENCY_MS_P50,
  type DeviceLock,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
} from '@sm-nas/service-kit';
import { cacheKey, type CachedMeasurement, type LatencyCache } from './cache.js';
import type { HardwareDescription } from './hardware.js';
import { DEFAULT_MEASURE, measure, MIN_CV_ITERATIONS, type MeasureSettings } from './measure.js';
import { checkProfileSettings } from './settings.js';
import { buildTimedModel, minBreakdownPasses, moduleTimes, warmPrefixes } from './model.js';
import { heldOutSpearman, LatencyModel, MIN_PREDICTOR_MEASUREMENTS, moduleFeatures, type Sample } from './predictor.js';

export const MAX_BATCH = 64;
/**
 * Iterations per cumulative prefix for the per-module breakdown: half a round, 10 at most. The
 * breakdown informs (and feeds the predictor); the latency objective is the full network's rounds.
 */
export const MODULE_ITERATIONS = 10;

export interface ProfilerOptions {
  hardware: HardwareDescription;
  cache: LatencyCache;
  /** Defaults for what a request leaves at 0, and the warm-up rule. */
  measure?: Partial<MeasureSettings>;
  /** Called after each new measurement (not on cache hits), e.g. to publish an event. */
  onMeasured?: (response: profiler.ProfileResponse) => unknown;
  /** Held while measuring when the device is shared (the local mesh's trainer waits meanwhile). */
  device?: DeviceLock;
}

interface ProfileJob {
  arch: Architecture;
  archId: string;
  input: InputSize;
  batch: number;
  settings: MeasureSettings;
  key: string;
  bypassCache: boolean;
}

// Looked up per call: a tracer provider registered after this module loaded (tests) still applies.
const tracer = () => trace.getTracer('@sm-nas/profiler');

const inputText = (i: InputSize) => `${i.widthPx}x${i.heightPx}`;

export class Profiler {
  /** Measurements made by this process (cache hits excluded): what the tests count. */
  measurements = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Map<string, Promise<profiler.ProfileResponse>>();
  private model: { version: string; model: LatencyModel; spearman: number } | undefined;
  private readonly features = new Map<string, Sample['features']>();
  private readonly defaults: MeasureSettings;

  constructor(private readonly options: ProfilerOptions) {
    this.defaults = { ...DEFAULT_MEASURE, ...options.measure };
    // A default round too short for its CV would make every profile run to its time limit.
    if (!Number.isInteger(this.defaults.iterationsPerRound) || this.defaults.iterationsPerRound < MIN_CV_ITERATIONS) {
      throw new RangeError(`measure.iterationsPerRound must be an integer of at least ${MIN_CV_ITERATIONS}, got ${this.defaults.iterationsPerRound}`);
    }
  }

  get hardware(): HardwareDescription {
    return this.options.hardware;
  }

  describe(): profiler.DescribeResponse {
    const h = this.options.hardware;
    return {
      hardware: {
        hardwareClass: h.hardwareClass,
        deviceKind: h.deviceKind === 'gpu' ? profiler.DeviceKind.DEVICE_KIND_GPU : profiler.DeviceKind.DEVICE_KIND_CPU,
        gpuProduct: h.gpu?.product ?? '',
        gpuMemoryBytes: BigInt(Math.round(h.gpu?.memoryBytes ?? 0)),
        gpuDriverVersion: h.gpu?.driverVersion ?? '',
        cudaVersion: h.gpu?.cudaVersion ?? '',
        cpuModel: h.cpuModel,
        cpuCores: h.cpuCores,
        cpuIsaFlags: h.cpuIsaFlags,
        backend: h.backend,
        backendVersion: h.backendVersion,
      },
    };
  }

  /** The class check shared by Profile and PredictLatency: this profiler answers for its own class only. */
  private checkClass(hardwareClass: string): void {
    const problem = hardwareClassProblem(hardwareClass);
    if (problem) throw new InvalidArgumentError('hardware_class', problem);
    if (hardwareClass !== this.options.hardware.hardwareClass) {
      throw new InvalidArgumentError(
        'hardware_class',
        `this profiler measures ${this.options.hardware.hardwareClass}, not ${hardwareClass}; send the request to that class's profilers`,
      );
    }
  }

  private archAndInput(wire: common.Architecture | undefined, wireInput: common.InputSize | undefined): { arch: Architecture; input: InputSize } {
    const arch = withFieldPrefix('architecture', () => validateArchitecture(architectureFromWire(wire)));
    const input = wireInput ? validateInputSize(wireInput, 'input') : arch.input;
    return { arch: { ...arch, input }, input };
  }

  private job(request: profiler.ProfileRequest): ProfileJob {
    this.checkClass(request.hardwareClass);
    const { arch, input } = this.archAndInput(request.architecture, request.input);
    const batch = request.batchSize || 1;
    if (batch > MAX_BATCH) throw new InvalidArgumentError('batch_size', `must be at most ${MAX_BATCH}, got ${batch}`);
    const s = checkProfileSettings(request.settings);
    const settings: MeasureSettings = {
      ...this.defaults,
      targetCv: s.targetCoefficientOfVariation || this.defaults.targetCv,
      maxSeconds: s.maxSeconds || this.defaults.maxSeconds,
      iterationsPerRound: s.iterationsPerRound || this.defaults.iterationsPerRound,
    };
    const archId = architectureId(arch);
    const h = this.options.hardware;
    const key = cacheKey({ architectureId: archId, hardwareClass: h.hardwareClass, input, batch, backendVersion: h.backendVersion, settings });
    return { arch, archId, input, batch, settings, key, bypassCache: request.bypassCache };
  }

  async profile(request: profiler.ProfileRequest, signal?: AbortSignal): Promise<profiler.ProfileResponse> {
    const job = this.job(request);
    return tracer().startActiveSpan('profiler.profile', async (span) => {
      span.setAttributes({
        [ATTR_NAS_ARCH_ID]: job.archId,
        [ATTR_NAS_HARDWARE_CLASS]: this.options.hardware.hardwareClass,
        [ATTR_NAS_INPUT_SIZE]: inputText(job.input),
        [ATTR_NAS_BATCH_SIZE]: job.batch,
      });
      try {
        const response = await this.cachedOrMeasured(job, signal);
        if (response.cached) span.addEvent('cache hit');
        span.setAttribute(ATTR_NAS_LATENCY_MS_P50, response.latency?.latencyMsP50 ?? 0);
        return response;
      } finally {
        span.end();
      }
    });
  }

  private async fromCache(job: ProfileJob): Promise<profiler.ProfileResponse | undefined> {
    if (job.bypassCache) return undefined;
    const hit = await this.options.cache.get(job.key);
    return hit ? { ...profiler.ProfileResponse.fromJSON(hit.response), cached: true } : undefined;
  }

  private async cachedOrMeasured(job: ProfileJob, signal?: AbortSignal): Promise<profiler.ProfileResponse> {
    const hit = await this.fromCache(job);
    if (hit) return hit;
    // The same candidate asked twice at once is measured once.
    const pending = job.bypassCache ? undefined : this.inFlight.get(job.key);
    if (pending) return { ...(await pending), cached: true };
    const run = this.serialised(async () => (await this.fromCache(job)) ?? this.measureAndStore(job, signal));
    if (!job.bypassCache) {
      this.inFlight.set(job.key, run);
      void run.finally(() => this.inFlight.delete(job.key)).catch(() => {});
    }
    return run;
  }

  /** One measurement at a time on this device: later calls wait their turn. */
  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn);
    this.queue = result.catch(() => {});
    return result;
  }

  private async measureAndStore(job: ProfileJob, signal?: AbortSignal): Promise<profiler.ProfileResponse> {
    signal?.throwIfAborted();
    const h = this.options.hardware;
    let model: ReturnType<typeof buildTimedModel>;
    try {
      model = buildTimedModel(job.arch, { form: 'detection', batch: job.batch });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/not yet supported/.test(message)) {
        throw new DomainError('UNIMPLEMENTED', `architecture.head.kind: libs/detector cannot build this detector yet (${message})`);
      }
      throw err;
    }
    try {
      const timed = async () => {
        // One limit for all the timing (not the build, nor the wait for the device): the prefixes'
        // costly first runs come first, the rounds leave the per-module breakdown its minimum, and
        // the breakdown stops adding iterations at the deadline.
        const deadline = performance.now() + job.settings.maxSeconds * 1000;
        await warmPrefixes(model);
        signal?.throwIfAborted();
        const breakdownPasses = minBreakdownPasses() * model.prefixes.length;
        const settings = { ...job.settings, maxSeconds: Math.max(0, deadline - performance.now()) / 1000 };
        const m = await measure(() => model.run(), settings, undefined, signal, { reserveMs: (iterationMs) => breakdownPasses * iterationMs });
        const iterations = Math.max(1, Math.min(MODULE_ITERATIONS, Math.floor(job.settings.iterationsPerRound / 2)));
        const modules = await moduleTimes(model, iterations, m.summary.mean, deadline);
        return { m, modules };
      };
      const { m, modules } = this.options.device ? await this.options.device.hold(timed) : await timed();
      this.measurements++;
      const response: profiler.ProfileResponse = {
        architectureId: job.archId,
        hardwareClass: h.hardwareClass,
        input: job.input,
        latency: {
          latencyMsP50: m.summary.p50,
          latencyMsP90: m.summary.p90,
          latencyMsP99: m.summary.p99,
          latencyMsMean: m.summary.mean,
          latencyMsStddev: m.summary.stddev,
          coefficientOfVariation: m.summary.cv,
          iterations: m.summary.n,
          warmupIterations: m.warmupIterations,
          batchSize: job.batch,
          modules: modules.map((x) => ({ name: x.name, latencyMsMean: x.ms, gpuKernelMsMean: x.gpuMs })),
        },
        stopReason: m.stopReason === 'target_cv' ? profiler.StopReason.STOP_REASON_TARGET_CV_REACHED : profiler.StopReason.STOP_REASON_TIME_LIMIT,
        cached: false,
        backendVersion: h.backendVersion,
      };
      const record: CachedMeasurement = {
        canonical: toCanonical(job.arch),
        batch: job.batch,
        hardwareClass: h.hardwareClass,
        backendVersion: h.backendVersion,
        settings: job.settings,
        response: profiler.ProfileResponse.toJSON(response),
      };
      await this.options.cache.put(job.key, record);
      await this.options.onMeasured?.(response);
      return response;
    } finally {
      model.dispose();
    }
  }

  // ---- prediction ------------------------------------------------------------------------------

  private sample(record: CachedMeasurement): { sample: Sample; iterations: number } | undefined {
    const response = profiler.ProfileResponse.fromJSON(record.response);
    const latency = response.latency;
    if (!latency) return undefined;
    const key = `${record.canonical}|${record.batch}`;
    let features = this.features.get(key);
    if (!features) this.features.set(key, (features = moduleFeatures(parseCanonical(record.canonical), record.batch)));
    return {
      sample: {
        key,
        features,
        modules: new Map(latency.modules.map((m) => [m.name, m.latencyMsMean])),
        latencyMs: latency.latencyMsP50,
      },
      iterations: latency.iterations,
    };
  }

  /**
   * One sample per architecture at batch 1. The cache may hold several (measured with other
   * settings); the one with the most timed iterations stands for it, since the same network twice
   * in the training set would be predicted from itself in the held-out score.
   */
  private samples(records: readonly CachedMeasurement[]): Sample[] {
    const best = new Map<string, { sample: Sample; iterations: number }>();
    for (const record of records) {
      if (record.batch !== 1) continue;
      const s = this.sample(record);
      if (!s) continue;
      const seen = best.get(s.sample.key);
      if (!seen || s.iterations > seen.iterations) best.set(s.sample.key, s);
    }
    return [...best.values()].map((s) => s.sample);
  }

  async predict(request: profiler.PredictLatencyRequest): Promise<profiler.PredictLatencyResponse> {
    this.checkClass(request.hardwareClass);
    const { arch } = this.archAndInput(request.architecture, request.input);
    const hardwareClass = this.options.hardware.hardwareClass;
    const records = await this.options.cache.list(hardwareClass);
    const samples = this.samples(records);
    // The response has no way to say "no score" (held_out_spearman is a plain double), so a
    // prediction whose held-out score would be undefined or meaningless is not given at all.
    if (samples.length < MIN_PREDICTOR_MEASUREMENTS) {
      throw new FailedPreconditionError(
        `hardware_class: ${samples.length} architecture${samples.length === 1 ? '' : 's'} of ${hardwareClass} measured at batch 1, the predictor needs at least ${MIN_PREDICTOR_MEASUREMENTS} ` +
          `(fewer cannot give a held-out rank correlation that means anything); it learns from this class's Profile results`,
      );
    }
    // Refit when the measurements changed (a new one, or one re-measured with bypass_cache).
    const version = samples.map((s) => `${s.key}=${s.latencyMs}`).join(';');
    if (this.model?.version !== version) {
      this.model = { version, model: new LatencyModel(samples), spearman: heldOutSpearman(samples) };
    }
    if (!Number.isFinite(this.model.spearman)) {
      throw new FailedPreconditionError(
        `hardware_class: the held-out rank correlation of the predictor over ${samples.length} measurements of ${hardwareClass} is undefined (their latencies or its predictions all tie); profile architectures that differ more`,
      );
    }
    const prediction = this.model.model.predict(moduleFeatures(arch, 1));
    return {
      latencyMsPredicted: prediction.totalMs,
      heldOutSpearman: this.model.spearman,
      trainingMeasurements: samples.length,
    };
  }
}
