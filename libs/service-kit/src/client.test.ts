// Retry from the protos' idempotency annotations, against a real server on loopback: ProfilerService
// has an IDEMPOTENT method (Describe, PredictLatency) and one without the annotation (Profile).
import { SpanKind } from '@opentelemetry/api';
import { profiler } from '@sm-nas/proto';
import { ClientError, createChannel, createServer, ServerError, Status, type Channel, type Server } from 'nice-grpc';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ATTR_NAS_RETRY_ATTEMPT } from './attributes.js';
import { createServiceClient, type ServiceClient } from './client.js';
import { isAbortError } from './errors.js';
import { useInMemoryTracing } from './testing/index.js';

const exporter = useInMemoryTracing();

/** Per method: how many calls came, and how many of the next ones fail, with which status. */
const calls = { describe: 0, profile: 0, predictLatency: 0 };
let failing: { status: Status; times: number } = { status: Status.UNAVAILABLE, times: 0 };

function maybeFail(): void {
  if (failing.times <= 0) return;
  failing.times--;
  throw new ServerError(failing.status, 'not now');
}

const HARDWARE = profiler.HardwareDescription.fromPartial({ hardwareClass: 'cpu.test' });

let server: Server;
let channel: Channel;
let client: ServiceClient<typeof profiler.ProfilerServiceDefinition>;

beforeAll(async () => {
  server = createServer();
  server.add(profiler.ProfilerServiceDefinition, {
    async describe() {
      calls.describe++;
      maybeFail();
      return { hardware: HARDWARE };
    },
    async profile() {
      calls.profile++;
      maybeFail();
      return profiler.ProfileResponse.fromPartial({ hardwareClass: 'cpu.test' });
    },
    async predictLatency() {
      calls.predictLatency++;
      maybeFail();
      return profiler.PredictLatencyResponse.fromPartial({});
    },
  });
  const port = await server.listen('127.0.0.1:0');
  channel = createChannel(`127.0.0.1:${port}`);
  client = createServiceClient(profiler.ProfilerServiceDefinition, channel);
});

afterAll(async () => {
  channel.close();
  await server.shutdown();
});

beforeEach(() => {
  Object.assign(calls, { describe: 0, profile: 0, predictLatency: 0 });
  failing = { status: Status.UNAVAILABLE, times: 0 };
  exporter.reset();
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('createServiceClient', () => {
  it('retries an IDEMPOTENT method through UNAVAILABLE, in one client span', async () => {
    failing = { status: Status.UNAVAILABLE, times: 2 };
    const response = await client.describe({});
    expect(response.hardware?.hardwareClass).toBe('cpu.test');
    expect(calls.describe).toBe(3);
    const spans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(spans.map((s) => s.name)).toEqual(['nas.profiler.v1.ProfilerService/Describe']);
    expect(spans[0]!.events.map((e) => [e.name, e.attributes?.[ATTR_NAS_RETRY_ATTEMPT]])).toEqual([
      ['retry', 2],
      ['retry', 3],
    ]);
  });

  it('does not retry a method without the annotation', async () => {
    failing = { status: Status.UNAVAILABLE, times: 1 };
    const err = await failure(client.profile({ hardwareClass: 'cpu.test' }));
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).code).toBe(Status.UNAVAILABLE);
    expect(calls.profile).toBe(1);
  });

  it('retries such a method where the call opts in', async () => {
    failing = { status: Status.UNAVAILABLE, times: 2 };
    const response = await client.profile({ hardwareClass: 'cpu.test' }, { retry: true });
    expect(response.hardwareClass).toBe('cpu.test');
    expect(calls.profile).toBe(3);
  });

  it('never retries INVALID_ARGUMENT', async () => {
    failing = { status: Status.INVALID_ARGUMENT, times: 5 };
    const err = await failure(client.predictLatency({}));
    expect((err as ClientError).code).toBe(Status.INVALID_ARGUMENT);
    expect(calls.predictLatency).toBe(1);
    // Not even where a call opts in to retries.
    await failure(client.profile({ hardwareClass: 'cpu.test' }, { retry: true }));
    expect(calls.profile).toBe(1);
  });

  it('gives up with the last error once retryMaxMs has passed', async () => {
    failing = { status: Status.UNAVAILABLE, times: Number.POSITIVE_INFINITY };
    const started = Date.now();
    const err = await failure(client.describe({}, { retryMaxMs: 700 }));
    expect((err as ClientError).code).toBe(Status.UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(calls.describe).toBeGreaterThanOrEqual(2);
  });

  it('stops retrying when the signal is aborted', async () => {
    failing = { status: Status.UNAVAILABLE, times: Number.POSITIVE_INFINITY };
    const started = Date.now();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 500);
    const err = await failure(client.describe({}, { signal: abort.signal }));
    expect(isAbortError(err)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    const made = calls.describe;
    await new Promise((r) => setTimeout(r, 500));
    expect(calls.describe).toBe(made);
  });
});
