import { architectureToWire } from '@sm-nas/arch/wire';
import { connectBus } from '@sm-nas/bus';
import { profiler } from '@sm-nas/proto';
import { readArchitectureArg, UsageError } from '../arch-arg.js';
import { withClient, type ServiceTarget } from '../client.js';
import { table } from '../format.js';

export const PROFILE_USAGE = `sm-nas profile ARCH [--input WxH] [--batch N] [--seconds S] [--iterations N] [--cv F] [--fresh]
                   [--class ID] [--nats URL | --addr HOST:PORT | --backend B] [--predict] [--json]
  Measures ARCH's inference latency (p50/p90/p99, CV, per module) on a profiler: through NATS to the
  profilers of --class (with --nats or NATS_URL; a class nobody serves fails at once), at --addr
  (or PROFILER_ADDR), or on this machine in-process. --predict asks the class's latency predictor
  instead: a prediction, never a measurement. --fresh measures even if the cache has a result. --backend
  (auto, webgpu, wasm, cpu, tensorflow) picks the in-process profiler's tfjs backend.`;

export interface ProfileOptions {
  input?: string;
  batch?: string;
  seconds?: string;
  iterations?: string;
  cv?: string;
  fresh?: boolean;
  class?: string;
  nats?: string;
  addr?: string;
  predict?: boolean;
  json?: boolean;
}

const profilerTarget: ServiceTarget<typeof profiler.ProfilerServiceDefinition> = {
  definition: profiler.ProfilerServiceDefinition,
  addrEnv: 'PROFILER_ADDR',
  // TensorFlow.js loads only when a profiler runs in this process.
  startLocal: async (options) => (await import('@sm-nas/profiler')).startProfiler(options).then((r) => ({ ...r.server, shutdown: (o) => r.stop(o) })),
};

function num(text: string | undefined, flag: string): number {
  if (text === undefined) return 0;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new UsageError(`${flag}: expected a non-negative number, got "${text}"`);
  return value;
}

function parseSize(text: string | undefined): profiler.ProfileRequest['input'] {
  if (text === undefined) return undefined;
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (!match) throw new UsageError(`--input: expected WIDTHxHEIGHT such as 1333x800, got "${text}"`);
  return { widthPx: Number(match[1]), heightPx: Number(match[2]) };
}

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

export async function profileCommand(archText: string | undefined, options: ProfileOptions): Promise<string> {
  const arch = readArchitectureArg(archText);
  const input = parseSize(options.input);
  const batch = num(options.batch, '--batch');
  if (!Number.isInteger(batch)) throw new UsageError(`--batch: expected a whole number, got "${options.batch}"`);
  const request = (hardwareClass: string): profiler.ProfileRequest => ({
    architecture: architectureToWire(arch),
    hardwareClass,
    input,
    batchSize: batch,
    settings: { targetCoefficientOfVariation: num(options.cv, '--cv'), maxSeconds: num(options.seconds, '--seconds'), iterationsPerRound: num(options.iterations, '--iterations') },
    bypassCache: options.fresh === true,
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
  return withClient(profilerTarget, options.addr, async (client) => {
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
