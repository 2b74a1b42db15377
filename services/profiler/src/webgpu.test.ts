// A profiler on the webgpu backend beside one on wasm, on one machine and one nats-server: the
// webgpu one on a software adapter (lavapipe where there is no GPU) describes a `cpu.` class (a
// software adapter is never a GPU), times with the GPU's timestamp queries where the adapter has
// them, and each profiler answers only its own class. The wasm profiler is a child process (a
// process runs one backend). Skipped where no WebGPU adapter exists, except in CI.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseCanonical } from '@sm-nas/arch';
import { architectureToWire } from '@sm-nas/arch/wire';
import { connectBus, type Bus } from '@sm-nas/bus';
import { startNatsServer, type NatsServer } from '@sm-nas/bus/testing';
import { profiler } from '@sm-nas/proto';
import { backendInfo } from '@sm-nas/tfjs-runtime';
import { startWebGpuForTests } from '@sm-nas/tfjs-runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_CV_ITERATIONS, requestProfile, startProfiler, type RunningProfiler } from './index.js';

const quiet = { info: () => {}, error: () => {} };
const MEASURE = { maxSeconds: 0.2, iterationsPerRound: MIN_CV_ITERATIONS, minWarmup: 1, maxWarmup: 1 };
const TINY = 'resnet18:16:11-21-21-21/fpn:3-5:16/none/retinanet:16/64x64';
const main = fileURLToPath(new URL('./main.ts', import.meta.url));

let missing: string | undefined;
let nats: NatsServer;
let bus: Bus;
let gpu: RunningProfiler;
let child: ChildProcess | undefined;
let childClass = '';

beforeAll(async () => {
  missing = await startWebGpuForTests('webgpu profiler tests');
  if (missing) return;
  nats = await startNatsServer({ jetstream: true });
  bus = await connectBus({ servers: nats.url, name: 'profiler-webgpu-test', logger: quiet });
  gpu = await startProfiler({ host: '127.0.0.1', port: 0, natsUrl: nats.url, measure: MEASURE, logger: quiet });
  child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { ...process.env, SM_NAS_TFJS_BACKEND: 'wasm', SM_NAS_TFJS_THREADS: '1', PROFILER_PORT: '0', NATS_URL: nats.url, OTEL_TRACES_EXPORTER: 'none' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 90_000;
  while (!/hardware class (\S+) on/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`wasm profiler did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  childClass = /hardware class (\S+) on/.exec(out)![1]!;
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await gpu?.stop({ graceMs: 1000 });
  await bus?.close();
  await nats?.stop();
});

const request = (hardwareClass: string) => profiler.ProfileRequest.fromPartial({ architecture: architectureToWire(parseCanonical(TINY)), hardwareClass });

describe('a webgpu profiler beside a wasm one', () => {
  it('describes a software adapter as a cpu class of its own', () => {
    if (missing) return;
    const h = gpu.profiler.hardware;
    const adapter = backendInfo()!.adapter!;
    if (adapter.software) {
      expect(h.deviceKind).toBe('cpu');
      expect(h.hardwareClass).toMatch(/^cpu\..*\.webgpu-dawn-\d+\.\d+-[a-z0-9-]+-software$/);
    } else {
      expect(h.deviceKind).toBe('gpu');
      expect(h.hardwareClass).toMatch(/^gpu\..*\.webgpu-dawn-\d+\.\d+$/);
    }
    expect(childClass).toMatch(/\.wasm-simd-/);
    expect(childClass).not.toBe(h.hardwareClass);
  });

  it('each answers only its own class; the webgpu one times its modules on the GPU', async () => {
    if (missing) return;
    const before = gpu.profiler.measurements;
    const own = await requestProfile(bus, request(gpu.profiler.hardware.hardwareClass));
    expect(own.hardwareClass).toBe(gpu.profiler.hardware.hardwareClass);
    expect(gpu.profiler.measurements).toBe(before + 1);
    const latency = own.latency!;
    expect(latency.latencyMsP50).toBeGreaterThan(0);
    expect(latency.modules.map((m) => m.name)).toEqual(['backbone', 'neck', 'head', 'postprocess']);
    if (backendInfo()!.adapter!.features.includes('timestamp-query')) {
      // A module's share is a difference of prefixes: a module as small as this neck can come out 0.
      expect(latency.modules.find((m) => m.name === 'backbone')!.gpuKernelMsMean).toBeGreaterThan(0);
      expect(latency.modules.find((m) => m.name === 'postprocess')!.gpuKernelMsMean).toBe(0);
    }
    const other = await requestProfile(bus, request(childClass));
    expect(other.hardwareClass).toBe(childClass);
    expect(other.latency!.modules.every((m) => m.gpuKernelMsMean === 0)).toBe(true);
    expect(gpu.profiler.measurements).toBe(before + 1);
  }, 240_000);
});
