import { architectureToWire } from '@sm-nas/arch/wire';
import type { BackendChoice } from '@sm-nas/tfjs-runtime/choice';
import { connectBus } from '@sm-nas/bus';
import { profiler } from '@sm-nas/proto';
import { readArchitectureArg } from '../arch-arg.js';
import type { PROFILE_OPTIONS } from '../command-table.js';
import type { OptionValues } from '../options.js';
import { UsageError } from '../usage-error.js';
import { withClient, type ServiceTarget } from '../client.js';
import { table } from '../format.js';

export type ProfileOptions = OptionValues<typeof PROFILE_OPTIONS>;

/** `backend`: --backend, for a profiler started in this process. */
const profilerTarget = (backend: BackendChoice | undefined): ServiceTarget<typeof profiler.ProfilerServiceDefinition> => ({
  definition: profiler.ProfilerServiceDefinition,
  addrEnv: 'PROFILER_ADDR',
  // TensorFlow.js loads only when a profiler runs in this process.
  startLocal: async (options) =>
    (await import('@sm-nas/profiler'))
      .startProfiler({ ...options, ...(backend ? { backend: { backend } } : {}) })
      .then((r) => ({ ...r.server, shutdown: (o) => r.stop(o) })),
});

const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

export function formatProfile(r: profiler.ProfileResponse): string {
  const l = r.latency;
  if (!l) return 'no latency in the response';
  const stop = r.stopReason === profiler.StopReason.STOP_REASON_TARGET_CV_REACHED ? 'CV target reached' : 'time limit reached';
  const input = r.input ? `${r.input.widthPx}x${r.input.heightPx}` : '?';
  return [
    `${r.architectureId} at ${input}, batch ${l.batchSize}, on ${r.hardwareClass}${r.cached ? ' (from the cache, measured earlier)' : ''}`,
    `measured: p50 ${ms(l.latencyMsP50)}  p90 ${ms(l.latencyMsP90)}  p99 ${ms(l.latencyMsP99)}  mean ${ms(l.latencyMsMean)}  ` +
      `std ${ms(l.latencyMsStddev)}  CV ${(100 * l.coefficientOfVariation).toFixed(1)}%`,
    `${l.iterations} timed iterations after ${l.warmupIterations} warm-up; ${stop}; ${r.backendVersion}`,
    '',
    l.modules.some((m) => m.gpuKernelMsMean > 0)
      ? table(['module', 'mean', 'gpu kernels'], l.modules.map((m) => [m.name, ms(m.latencyMsMean), ms(m.gpuKernelMsMean)]))
      : table(['module', 'mean'], l.modules.map((m) => [m.name, ms(m.latencyMsMean)])),
  ].join('\n');
}

export async function profileCommand(archText: string | undefined, options: ProfileOptions, backend?: BackendChoice): Promise<string> {
  const arch = readArchitectureArg(archText);
  const input = options.input;
  const request = (hardwareClass: string): profiler.ProfileRequest => ({
    architecture: architectureToWire(arch),
    hardwareClass,
    input,
    // 0: the profiler's default.
    batchSize: options.batch ?? 0,
    settings: { targetCoefficientOfVariation: options.cv ?? 0, maxSeconds: options.seconds ?? 0, iterationsPerRound: options.iterations ?? 0 },
    bypassCache: options.fresh,
  });
  const natsUrl = options.nats ?? (options.addr ? undefined : process.env.NATS_URL);
  if (natsUrl && !options.predict) {
    if (!options.class) throw new UsageError('--class: required when profiling through NATS (which profilers should measure?)');
    const { requestProfile } = await import('@sm-nas/profiler');
    const bus = await connectBus({ servers: natsUrl, name: 'sm-nas-cli' });
    try {
      const response = await requestProfile(bus, request(options.class));
      return options.json ? JSON.stringify(profiler.ProfileResponse.toJSON(response), null, 2) : formatProfile(response);
    } finally {
      await bus.close();
    }
  }
  return withClient(profilerTarget(backend), options.addr, async (client) => {
    const hardwareClass = options.class ?? (await client.describe({})).hardware?.hardwareClass ?? '';
    if (options.predict) {
      const p = await client.predictLatency({ architecture: architectureToWire(arch), hardwareClass, input });
      if (options.json) return JSON.stringify({ prediction: profiler.PredictLatencyResponse.toJSON(p) }, null, 2);
      return [
        `PREDICTED (not measured) for ${hardwareClass}: ${ms(p.latencyMsPredicted)}`,
        `predictor learned from ${p.trainingMeasurements} measurements of this class; held-out Spearman ${p.heldOutSpearman.toFixed(3)}`,
      ].join('\n');
    }
    const response = await client.profile(request(hardwareClass));
    return options.json ? JSON.stringify(profiler.ProfileResponse.toJSON(response), null, 2) : formatProfile(response);
  });
}
