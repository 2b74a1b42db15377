// The profiler over real gRPC on 127.0.0.1 and a real nats-server (JetStream): two profilers of
// different classes on one machine each get only their class's requests; bad requests name their
// field; a class nobody serves fails fast with UNAVAILABLE; measurements survive a restart of the
// profiler and of nats-server, so the same candidate is never timed twice.
import { parseCanonical } from '@sm-nas/arch';
import { architectureToWire } from '@sm-nas/arch/wire';
import { connectBus, hardwareClassToken, KV_BUCKETS, latencyMeasured, type Bus } from '@sm-nas/bus';
import { startNatsServer, type NatsServer } from '@sm-nas/bus/testing';
import { profiler } from '@sm-nas/proto';
import { useInMemoryTracing } from '@sm-nas/service-kit/testing';
import { initBackend } from '@sm-nas/tfjs-runtime';
import { ClientError, Status, createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceLock } from '@sm-nas/service-kit';
import { MemoryLatencyCache } from './cache.js';
import { detectHardware, MIN_CV_ITERATIONS, MIN_PREDICTOR_MEASUREMENTS, requestProfile, startProfiler, type RunningProfiler } from './index.js';
import { Profiler } from './profiler.js';
import type { HardwareDescription } from './hardware.js';

const exporter = useInMemoryTracing();
const quiet = { info: () => {}, error: () => {} };
// Tiny timings: the protocol is what is under test here, not the numbers (bench/profiler.ts).
const MEASURE = { maxSeconds: 0.2, iterationsPerRound: MIN_CV_ITERATIONS, minWarmup: 1, maxWarmup: 2 };
const TINY = 'resnet18:16:11-21-21-21/fpn:3-5:16/none/retinanet:16/64x64';
const TINY_2 = 'resnet18:16:11-21-21-11/fpn:3-5:16/none/retinanet:16/64x64';
/** With TINY and TINY_2, enough distinct architectures for the predictor. */
const MORE_TINY = ['resnet18:16:11-11-21-11/fpn:3-5:16/none/retinanet:16/64x64', 'resnet18:16:11-21-11-11/fpn:3-5:16/none/retinanet:16/64x64', 'resnet18:16:21-11-11-11/fpn:3-5:16/none/retinanet:16/64x64'];

type ProfilerClient = Client<typeof profiler.ProfilerServiceDefinition>;

let nats: NatsServer;
let bus: Bus;
let base: HardwareDescription;
const running: RunningProfiler[] = [];
const channels: Channel[] = [];

async function start(label: string): Promise<{ p: RunningProfiler; client: ProfilerClient; hardwareClass: string }> {
  const hardware = { ...base, hardwareClass: `${base.hardwareClass}.${label}` };
  const p = await startProfiler({ host: '127.0.0.1', port: 0, hardware, natsUrl: nats.url, measure: MEASURE, logger: quiet });
  running.push(p);
  const channel = createChannel(p.server.address);
  channels.push(channel);
  return { p, client: createClient(profiler.ProfilerServiceDefinition, channel), hardwareClass: hardware.hardwareClass };
}

function request(hardwareClass: string, arch = TINY, over: Partial<profiler.ProfileRequest> = {}): profiler.ProfileRequest {
  return profiler.ProfileRequest.fromPartial({ architecture: architectureToWire(parseCanonical(arch)), hardwareClass, ...over });
}

beforeAll(async () => {
  // One kernel thread: on a shared CI machine a second thread waiting for a busy core makes every
  // convolution wait a scheduler slice (oneDNN's and XNNPACK's barriers spin).
  await initBackend({ threads: 1, log: null });
  base = await detectHardware();
  nats = await startNatsServer({ jetstream: true });
  bus = await connectBus({ servers: nats.url, name: 'profiler-test', logger: quiet });
});
afterAll(async () => {
  for (const c of channels) c.close();
  for (const p of running) await p.stop({ graceMs: 1000 });
  await bus?.close();
  await nats?.stop();
});

describe('ProfilerService', () => {
  let a: Awaited<ReturnType<typeof start>>;
  let b: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    a = await start('slot-a');
    b = await start('slot-b');
  });

  it('describes its hardware class', async () => {
    const { hardware } = await a.client.describe({});
    expect(hardware?.hardwareClass).toBe(a.hardwareClass);
    expect(hardware?.cpuCores).toBeGreaterThan(0);
    expect(hardware?.backend).toBe(base.backend);
    expect(hardware?.deviceKind).toBe(profiler.DeviceKind.DEVICE_KIND_CPU);
  });

  it('routes each class to its own profiler over NATS', async () => {
    const measured: string[] = [];
    const sub = bus.subscribe(latencyMeasured, (event) => void measured.push(event.hardwareClass));
    const before = [a.p.profiler.measurements, b.p.profiler.measurements];
    const ra = await requestProfile(bus, request(a.hardwareClass));
    expect(ra.hardwareClass).toBe(a.hardwareClass);
    expect(ra.cached).toBe(false);
    expect([a.p.profiler.measurements - before[0]!, b.p.profiler.measurements - before[1]!]).toEqual([1, 0]);
    const rb = await requestProfile(bus, request(b.hardwareClass));
    expect(rb.hardwareClass).toBe(b.hardwareClass);
    expect([a.p.profiler.measurements - before[0]!, b.p.profiler.measurements - before[1]!]).toEqual([1, 1]);

    const latency = ra.latency!;
    // Statistics over every timed iteration; only a whole round stops on its CV (the time limit
    // may cut the last one short).
    expect(latency.iterations).toBeGreaterThan(0);
    if (ra.stopReason === profiler.StopReason.STOP_REASON_TARGET_CV_REACHED) expect(latency.iterations % MEASURE.iterationsPerRound).toBe(0);
    expect(latency.latencyMsP50).toBeGreaterThan(0);
    expect(latency.latencyMsP90).toBeGreaterThanOrEqual(latency.latencyMsP50);
    expect(latency.latencyMsP99).toBeGreaterThanOrEqual(latency.latencyMsP90);
    expect(latency.modules.map((m) => m.name)).toEqual(['backbone', 'neck', 'head', 'postprocess']);
    expect([profiler.StopReason.STOP_REASON_TARGET_CV_REACHED, profiler.StopReason.STOP_REASON_TIME_LIMIT]).toContain(ra.stopReason);
    await bus.flush();
    await sub.drain();
    expect(measured.sort()).toEqual([a.hardwareClass, b.hardwareClass].sort());
    const span = exporter.getFinishedSpans().find((s) => s.name === 'profiler.profile' && s.attributes['nas.hardware.class'] === a.hardwareClass);
    expect(span?.attributes['nas.arch.id']).toBe(ra.architectureId);
  });

  it('serves a repeated candidate from the cache, and measures again when asked to', async () => {
    const first = await a.client.profile(request(a.hardwareClass, TINY_2));
    const n = a.p.profiler.measurements;
    const again = await a.client.profile(request(a.hardwareClass, TINY_2));
    expect(again.cached).toBe(true);
    expect(again.latency).toEqual(first.latency);
    expect(a.p.profiler.measurements).toBe(n);
    // Another batch or input size is another measurement.
    const batch2 = await a.client.profile(request(a.hardwareClass, TINY_2, { batchSize: 2 }));
    expect(batch2.cached).toBe(false);
    expect(batch2.latency?.batchSize).toBe(2);
    const fresh = await a.client.profile(request(a.hardwareClass, TINY_2, { bypassCache: true }));
    expect(fresh.cached).toBe(false);
    // Other measurement settings are another measurement too.
    const longer = await a.client.profile(request(a.hardwareClass, TINY_2, { settings: { targetCoefficientOfVariation: 0, maxSeconds: 0, iterationsPerRound: MIN_CV_ITERATIONS + 1 } }));
    expect(longer.cached).toBe(false);
    expect(a.p.profiler.measurements).toBe(n + 3);
  });

  it('refuses malformed requests with INVALID_ARGUMENT naming the field, over gRPC and NATS', async () => {
    const wire = architectureToWire(parseCanonical(TINY));
    const cases: [profiler.ProfileRequest, string][] = [
      [request(a.hardwareClass, TINY, { input: { widthPx: 0, heightPx: 0 } }), 'input.width_px'],
      [request(b.hardwareClass), 'hardware_class'],
      [request('cpu.no-such-class'), 'hardware_class'],
      [request('Not A Class'), 'hardware_class'],
      [request(''), 'hardware_class'],
      [{ ...request(a.hardwareClass), architecture: { ...wire, backbone: { ...wire.backbone!, blocks: '11-21' } } }, 'architecture.backbone.blocks'],
      [{ ...request(a.hardwareClass), architecture: undefined }, 'architecture'],
      [request(a.hardwareClass, TINY, { batchSize: 100_000 }), 'batch_size'],
      [request(a.hardwareClass, TINY, { settings: { targetCoefficientOfVariation: -1, maxSeconds: 0, iterationsPerRound: 0 } }), 'settings.target_coefficient_of_variation'],
      [request(a.hardwareClass, TINY, { settings: { targetCoefficientOfVariation: 0, maxSeconds: 0, iterationsPerRound: 2 } }), 'settings.iterations_per_round'],
    ];
    const n = a.p.profiler.measurements;
    for (const [req, field] of cases) {
      const error = await a.client.profile(req).then(() => undefined, (e: unknown) => e);
      expect(error, field).toBeInstanceOf(ClientError);
      expect((error as ClientError).code, field).toBe(Status.INVALID_ARGUMENT);
      expect((error as ClientError).details.startsWith(field), (error as ClientError).details).toBe(true);
    }
    // The same over NATS, where the class routes it (a's own class, so a refuses the bad input).
    const overNats = await requestProfile(bus, request(a.hardwareClass, TINY, { input: { widthPx: 0, heightPx: 0 } })).then(() => undefined, (e: unknown) => e);
    expect(overNats).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((overNats as Error).message).toMatch(/^input\.width_px/);
    const malformed = await requestProfile(bus, request('Not A Class')).then(() => undefined, (e: unknown) => e);
    expect(malformed).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((malformed as Error).message).toMatch(/^hardware_class/);
    expect(a.p.profiler.measurements).toBe(n);
  });

  it('fails fast with UNAVAILABLE for a class no profiler serves', async () => {
    const t0 = performance.now();
    const error = await requestProfile(bus, request('gpu.nvidia-h100-80gb.tfjs-node-gpu-4.22')).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect((error as Error).message).toMatch(/^hardware_class: no profiler serves gpu\.nvidia-h100-80gb/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('times a two-stage detector (or says UNIMPLEMENTED while libs/detector cannot build it)', async () => {
    const twoStage = 'resnet18:16:11-21-21-21/fpn:3-5:16/rpn/faster_rcnn:16/64x64';
    const result = await a.client.profile(request(a.hardwareClass, twoStage)).then((r) => r, (e: unknown) => e);
    if (result instanceof ClientError) {
      expect(result.code).toBe(Status.UNIMPLEMENTED);
      expect(result.details).toMatch(/^architecture\.head\.kind/);
    } else {
      expect((result as profiler.ProfileResponse).latency?.latencyMsP50).toBeGreaterThan(0);
    }
  });

  it('holds the device lock while it measures (the local mesh trainer waits meanwhile), and only then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sm-nas-profiler-lock-'));
    const path = join(dir, 'device.lock');
    const p = new Profiler({ hardware: { ...base, hardwareClass: `${base.hardwareClass}.lock` }, cache: new MemoryLatencyCache(), measure: MEASURE, device: new DeviceLock(path) });
    let seen = 0;
    const poll = setInterval(() => {
      if (existsSync(path) && readFileSync(path, 'utf8') === String(process.pid)) seen++;
    }, 2);
    try {
      await p.profile(request(p.hardware.hardwareClass, TINY));
    } finally {
      clearInterval(poll);
    }
    expect(seen).toBeGreaterThan(0);
    expect(existsSync(path)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('predicts from its own measurements only, marked as a prediction with its held-out Spearman', async () => {
    const c = await start('slot-c');
    const none = await c.client.predictLatency({ architecture: architectureToWire(parseCanonical(TINY)), hardwareClass: c.hardwareClass }).then(() => undefined, (e: unknown) => e);
    expect((none as ClientError).code).toBe(Status.FAILED_PRECONDITION);
    const wrong = await c.client.predictLatency({ architecture: architectureToWire(parseCanonical(TINY)), hardwareClass: a.hardwareClass }).then(() => undefined, (e: unknown) => e);
    expect((wrong as ClientError).code).toBe(Status.INVALID_ARGUMENT);

    // a has measured TINY and TINY_2 at batch 1 by now (and the two-stage detector, once libs/detector
    // builds it): too few for a held-out rank correlation, which the response cannot leave out, so no
    // prediction, and the error says how many there are and how many it takes.
    const tooFew = await a.client.predictLatency({ architecture: architectureToWire(parseCanonical(TINY)), hardwareClass: a.hardwareClass }).then(() => undefined, (e: unknown) => e);
    expect((tooFew as ClientError).code).toBe(Status.FAILED_PRECONDITION);
    expect((tooFew as ClientError).details).toMatch(new RegExp(`^hardware_class: [23] architectures .* at least ${MIN_PREDICTOR_MEASUREMENTS} `));

    for (const arch of MORE_TINY) await a.client.profile(request(a.hardwareClass, arch));
    const predicted = await a.client.predictLatency({ architecture: architectureToWire(parseCanonical(TINY)), hardwareClass: a.hardwareClass });
    expect(predicted.trainingMeasurements).toBeGreaterThanOrEqual(MIN_PREDICTOR_MEASUREMENTS);
    expect(predicted.latencyMsPredicted).toBeGreaterThan(0);
    expect(Number.isFinite(predicted.heldOutSpearman)).toBe(true);
    expect(Math.abs(predicted.heldOutSpearman)).toBeLessThanOrEqual(1);
  });
});

describe('the latency cache', () => {
  it('keeps a measurement made while nats-server is down, and stores it once NATS is back', async () => {
    const during = await start('outage');
    await nats.kill('SIGKILL');
    // The cache read and write fail (a NATS timeout each): the candidate is measured anyway.
    const measured = await during.client.profile(request(during.hardwareClass, TINY_2));
    expect(measured.cached).toBe(false);
    expect(measured.latency?.latencyMsP50).toBeGreaterThan(0);
    const again = await during.client.profile(request(during.hardwareClass, TINY_2));
    expect(again.cached).toBe(true);
    expect(during.p.profiler.measurements).toBe(1);

    await nats.restart();
    // The next request writes the kept measurement (the client reconnects on its own).
    const stored = async () => {
      await during.client.profile(request(during.hardwareClass, TINY_2));
      const keys: string[] = [];
      for await (const k of await (await bus.js.views.kv(KV_BUCKETS.latencyCache)).keys(`${hardwareClassToken(during.hardwareClass)}.>`)) keys.push(k);
      return keys.length;
    };
    await expect.poll(stored, { timeout: 30_000, interval: 500 }).toBe(1);
    expect(during.p.profiler.measurements).toBe(1);
  });

  it('survives a restart of the profiler and of nats-server: the same candidate is not timed twice', async () => {
    const first = await start('restart');
    const measured = await first.client.profile(request(first.hardwareClass));
    expect(measured.cached).toBe(false);
    await first.p.stop({ graceMs: 1000 });
    running.splice(running.indexOf(first.p), 1);

    await bus.close();
    await nats.kill('SIGKILL');
    await nats.restart();
    bus = await connectBus({ servers: nats.url, name: 'profiler-test-2', logger: quiet });

    const second = await start('restart');
    const again = await second.client.profile(request(second.hardwareClass));
    expect(again.cached).toBe(true);
    expect(again.latency).toEqual(measured.latency);
    expect(second.p.profiler.measurements).toBe(0);
  });
});
