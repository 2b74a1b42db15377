// The Profiler itself, on tiny real detectors with an in-memory cache (server.test.ts runs it over
// gRPC and NATS): the time limit covers the whole profile, the cache tells settings apart, a round
// too short for its CV is refused, and the predictor answers only with a held-out score that exists.
import { parseCanonical, toCanonical } from '@sm-nas/arch';
import { architectureToWire } from '@sm-nas/arch/wire';
import { profiler } from '@sm-nas/proto';
import { initBackend } from '@sm-nas/tfjs-runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryLatencyCache, type CachedMeasurement } from './cache.js';
import type { HardwareDescription } from './hardware.js';
import { detectHardware } from './index.js';
import { DEFAULT_MEASURE, MIN_CV_ITERATIONS } from './measure.js';
import { buildTimedModel, moduleTimes } from './model.js';
import { MIN_PREDICTOR_MEASUREMENTS } from './predictor.js';
import { Profiler } from './profiler.js';

const MEASURE = { maxSeconds: 0.2, iterationsPerRound: MIN_CV_ITERATIONS, minWarmup: 1, maxWarmup: 2 };
const TINY = 'resnet18:16:11-21-21-21/fpn:3-5:16/none/retinanet:16/64x64';

let base: HardwareDescription;

beforeAll(async () => {
  await initBackend({ threads: 1, log: null });
  base = await detectHardware();
});

function newProfiler(label: string, measure: Partial<typeof DEFAULT_MEASURE> = MEASURE) {
  const cache = new MemoryLatencyCache();
  const p = new Profiler({ hardware: { ...base, hardwareClass: `${base.hardwareClass}.${label}` }, cache, measure });
  return { p, cache };
}

function request(p: Profiler, arch = TINY, over: Partial<profiler.ProfileRequest> = {}): profiler.ProfileRequest {
  return profiler.ProfileRequest.fromPartial({ architecture: architectureToWire(parseCanonical(arch)), hardwareClass: p.hardware.hardwareClass, ...over });
}

describe('the time limit', () => {
  it('stops the per-module breakdown adding iterations at the deadline', async () => {
    const model = buildTimedModel(parseCanonical(TINY), { form: 'detection', batch: 1 });
    try {
      const calls = new Map<string, number>();
      const counted = {
        ...model,
        prefixes: model.prefixes.map((p) => ({
          ...p,
          forward: () => {
            calls.set(p.module, (calls.get(p.module) ?? 0) + 1);
            return p.forward();
          },
        })),
      };
      await moduleTimes(counted, 10, 1, Infinity);
      // A warm-up run and the ten asked for.
      expect([...calls.values()]).toEqual(model.prefixes.map(() => 11));
      calls.clear();
      await moduleTimes(counted, 10, 1, performance.now() - 1);
      // Past the deadline: the warm-up run and the one timed run a module's time needs.
      expect([...calls.values()]).toEqual(model.prefixes.map(() => 2));
    } finally {
      model.dispose();
    }
  });

  it('covers the whole profile: a round of 1000 iterations stops at max_seconds', async () => {
    const { p } = newProfiler('time-limit');
    // What the profile spends outside the limit (building the model), timed on its own.
    const b0 = performance.now();
    buildTimedModel(parseCanonical(TINY), { form: 'detection', batch: 1 }).dispose();
    const buildMs = performance.now() - b0;

    const maxSeconds = 0.4;
    const t0 = performance.now();
    const response = await p.profile(request(p, TINY, { settings: { maxSeconds, iterationsPerRound: 1000, targetCoefficientOfVariation: 1e-9 } }));
    const wallMs = performance.now() - t0;
    expect(response.stopReason).toBe(profiler.StopReason.STOP_REASON_TIME_LIMIT);
    expect(response.latency!.iterations).toBeLessThan(1000);
    expect(response.latency!.modules.map((m) => m.name)).toEqual(['backbone', 'neck', 'head', 'postprocess']);
    // The limit, one iteration past it (its p99 standing in), the build, and 300 ms for the rest of
    // the call (cache, response) on a shared machine. A whole round would be 1000 iterations.
    expect(wallMs).toBeLessThanOrEqual(maxSeconds * 1000 + response.latency!.latencyMsP99 + buildMs + 300);
  });
});

describe('the cache', () => {
  it('measures again when the settings differ, and hits when they resolve to the same', async () => {
    const { p } = newProfiler('settings');
    const first = await p.profile(request(p));
    expect(first.cached).toBe(false);
    const others: profiler.ProfileSettings[] = [
      { targetCoefficientOfVariation: 0, maxSeconds: 0, iterationsPerRound: MIN_CV_ITERATIONS + 1 },
      { targetCoefficientOfVariation: 0, maxSeconds: 0.25, iterationsPerRound: 0 },
      { targetCoefficientOfVariation: 0.5, maxSeconds: 0, iterationsPerRound: 0 },
    ];
    for (const settings of others) {
      const r = await p.profile(request(p, TINY, { settings }));
      expect(r.cached, JSON.stringify(settings)).toBe(false);
    }
    expect(p.measurements).toBe(1 + others.length);
    // The defaults spelled out are the defaults: the first measurement.
    const spelled = await p.profile(
      request(p, TINY, { settings: { targetCoefficientOfVariation: DEFAULT_MEASURE.targetCv, maxSeconds: MEASURE.maxSeconds, iterationsPerRound: MEASURE.iterationsPerRound } }),
    );
    expect(spelled.cached).toBe(true);
    expect(spelled.latency).toEqual(first.latency);
    // And a setting asked for again is that measurement.
    expect((await p.profile(request(p, TINY, { settings: others[0] }))).cached).toBe(true);
    expect(p.measurements).toBe(1 + others.length);
  });
});

describe('round length', () => {
  it(`refuses iterations_per_round under ${MIN_CV_ITERATIONS}, naming the field`, async () => {
    const { p } = newProfiler('short-round');
    for (const n of [1, 2, MIN_CV_ITERATIONS - 1]) {
      const error = await p.profile(request(p, TINY, { settings: { targetCoefficientOfVariation: 0, maxSeconds: 0, iterationsPerRound: n } })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, String(n)).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'settings.iterations_per_round' });
    }
    expect(p.measurements).toBe(0);
  });

  it('refuses a default round too short for its CV when the profiler is made', () => {
    expect(() => newProfiler('short-default', { ...MEASURE, iterationsPerRound: MIN_CV_ITERATIONS - 1 })).toThrow(RangeError);
  });
});

describe('PredictLatency', () => {
  // Distinct detectors; their measured times are made up (a known law), what is tested is when the
  // predictor answers and what it reports.
  const ARCHS = [
    'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512',
    'resnet34:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/512x512',
    'resnet50:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/512x512',
    'resnet18:64:11-21-21-21/fpn:3-6:128/none/retinanet:128/800x600',
    'mobilenet_v2:64:11-211-2111-21/fpn:3-6:128/none/retinanet:128/512x512',
    'resnet18:48:11-21-21-21/fpn:2-6:256/none/retinanet:256/512x512',
  ];

  /** A measurement as the profiler stores it: backbone 2 ms + 1 ms per input megapixel, the rest fixed. */
  function record(hardwareClass: string, text: string, iterations: number): CachedMeasurement {
    const arch = parseCanonical(text);
    const backboneMs = 2 + (arch.input.widthPx * arch.input.heightPx) / 1e6 + text.length / 100;
    const modules = [
      { name: 'backbone', latencyMsMean: backboneMs, gpuKernelMsMean: 0 },
      { name: 'neck', latencyMsMean: 1, gpuKernelMsMean: 0 },
      { name: 'head', latencyMsMean: 1, gpuKernelMsMean: 0 },
      { name: 'postprocess', latencyMsMean: 0.5, gpuKernelMsMean: 0 },
    ];
    const total = modules.reduce((s, m) => s + m.latencyMsMean, 0);
    const response = profiler.ProfileResponse.fromPartial({
      architectureId: text,
      hardwareClass,
      input: arch.input,
      latency: { latencyMsP50: total, latencyMsMean: total, iterations, batchSize: 1, modules },
      stopReason: profiler.StopReason.STOP_REASON_TARGET_CV_REACHED,
    });
    return { canonical: toCanonical(arch), batch: 1, hardwareClass, backendVersion: base.backendVersion, response: profiler.ProfileResponse.toJSON(response) };
  }

  async function predictWith(label: string, archs: string[], duplicates: string[] = []) {
    const { p, cache } = newProfiler(label);
    const hardwareClass = p.hardware.hardwareClass;
    const token = hardwareClass.replaceAll('.', '_');
    for (const [i, text] of archs.entries()) await cache.put(`${token}.a${i}`, record(hardwareClass, text, 20));
    // The same architecture measured again with other settings: one architecture still.
    for (const [i, text] of duplicates.entries()) await cache.put(`${token}.d${i}`, record(hardwareClass, text, 5));
    return p.predict(profiler.PredictLatencyRequest.fromPartial({ architecture: architectureToWire(parseCanonical(ARCHS[0]!)), hardwareClass }));
  }

  it(`refuses with FAILED_PRECONDITION, saying how many there are, below ${MIN_PREDICTOR_MEASUREMENTS} measured architectures`, async () => {
    for (const n of [2, 3, MIN_PREDICTOR_MEASUREMENTS - 1]) {
      const error = await predictWith(`few-${n}`, ARCHS.slice(0, n), ARCHS.slice(0, 2)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, String(n)).toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect((error as Error).message).toMatch(new RegExp(`^hardware_class: ${n} architectures .* at least ${MIN_PREDICTOR_MEASUREMENTS} `));
    }
  });

  it('answers with a held-out Spearman in [-1, 1] from enough distinct measurements', async () => {
    const r = await predictWith('enough', ARCHS.slice(0, MIN_PREDICTOR_MEASUREMENTS), ARCHS.slice(0, 2));
    expect(r.trainingMeasurements).toBe(MIN_PREDICTOR_MEASUREMENTS);
    expect(Number.isFinite(r.heldOutSpearman)).toBe(true);
    expect(Math.abs(r.heldOutSpearman)).toBeLessThanOrEqual(1);
    expect(r.latencyMsPredicted).toBeGreaterThan(0);
  });
});
