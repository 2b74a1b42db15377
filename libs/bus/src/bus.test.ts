import { SpanKind, trace } from '@opentelemetry/api';
import { ErrorCode, NatsError } from 'nats';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, useInMemoryTracing } from './__fixtures__/tracing.js';
import { BusRequestError, connectBus, type Bus, type Delivery } from './bus.js';
import { jsonCodec } from './codec.js';
import { defineSubject } from './subject.js';
import { startNatsServer, type NatsServer } from './testing/index.js';

const exporter = useInMemoryTracing();

interface CandidateProposed {
  candidateId: string;
  stage: 'structural' | 'modular';
}
interface ProfileRequest {
  archId: string;
}
interface LatencyStats {
  latencyMsP50: number;
}

const candidateProposed = defineSubject({ subject: 'nas.test.candidate.proposed', codec: jsonCodec<CandidateProposed>() });
const profileRequest = defineSubject({ subject: 'nas.test.profile.request.{hardwareClass}', codec: jsonCodec<ProfileRequest>() });
const latencyStats = jsonCodec<LatencyStats>();
const quiet = { info: () => {}, error: () => {} };

const byKind = (kind: SpanKind) => (s: ReadableSpan) => s.kind === kind;

describe('Bus on core NATS', () => {
  let server: NatsServer;
  let producer: Bus;
  let consumer: Bus;

  beforeAll(async () => {
    server = await startNatsServer();
    producer = await connectBus({ servers: server.url, name: 'producer', logger: quiet });
    consumer = await connectBus({ servers: server.url, name: 'consumer', logger: quiet });
  });
  afterAll(async () => {
    await producer?.close();
    await consumer?.close();
    await server?.stop();
  });
  beforeEach(() => exporter.reset());

  it('carries the trace context from the publisher to the consumer span', async () => {
    const received: { value: CandidateProposed; traceId: string | undefined }[] = [];
    const sub = consumer.subscribe(candidateProposed, (value) => {
      received.push({ value, traceId: trace.getActiveSpan()?.spanContext().traceId });
    });
    await consumer.flush();

    const tracer = trace.getTracer('test');
    const parent = await tracer.startActiveSpan('controller.propose', async (span) => {
      await producer.publish(candidateProposed, { candidateId: 'c-1', stage: 'structural' });
      span.end();
      return span.spanContext();
    });

    await eventually(() => received.length === 1);
    await sub.drain();
    const spans = exporter.getFinishedSpans();
    const producerSpan = spans.find(byKind(SpanKind.PRODUCER));
    const consumerSpan = spans.find(byKind(SpanKind.CONSUMER));
    expect(producerSpan?.name).toBe('send nas.test.candidate.proposed');
    expect(consumerSpan?.name).toBe('process nas.test.candidate.proposed');
    // One trace from the active span through the producer span to the consumer span.
    expect(producerSpan?.spanContext().traceId).toBe(parent.traceId);
    expect(producerSpan?.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(consumerSpan?.spanContext().traceId).toBe(parent.traceId);
    expect(consumerSpan?.parentSpanContext?.spanId).toBe(producerSpan?.spanContext().spanId);
    expect(consumerSpan?.parentSpanContext?.isRemote).toBe(true);
    // The handler ran inside the consumer span.
    expect(received[0]).toEqual({ value: { candidateId: 'c-1', stage: 'structural' }, traceId: parent.traceId });
    expect(consumerSpan?.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': 'nas.test.candidate.proposed',
      'messaging.operation.type': 'process',
    });
    expect(producerSpan?.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': 'nas.test.candidate.proposed',
      'messaging.operation.type': 'send',
    });
  });

  it('starts a new trace for a message published outside any span', async () => {
    const seen: Delivery[] = [];
    const sub = consumer.subscribe(candidateProposed, (_, d) => void seen.push(d));
    await consumer.flush();
    await producer.publish(candidateProposed, { candidateId: 'c-2', stage: 'modular' });
    await eventually(() => seen.length === 1);
    await sub.drain();
    const consumerSpan = exporter.getFinishedSpans().find(byKind(SpanKind.CONSUMER));
    const producerSpan = exporter.getFinishedSpans().find(byKind(SpanKind.PRODUCER));
    expect(seen[0]?.headers?.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(consumerSpan?.spanContext().traceId).toBe(producerSpan?.spanContext().traceId);
  });

  it('routes requests by subject token to a queue group and returns the reply', async () => {
    const handled: string[] = [];
    const serve = (hardwareClass: string, member: string, latencyMsP50: number) =>
      consumer.serve(
        profileRequest,
        latencyStats,
        (request, delivery) => {
          handled.push(`${member}:${delivery.params.hardwareClass}:${request.archId}`);
          if (request.archId === 'bad') throw Object.assign(new Error('arch.backbone: unknown kind'), { code: 'INVALID_ARGUMENT' });
          // What a handler's KV call throws while nats-server restarts.
          if (request.archId === 'nats-away') throw NatsError.errorForCode(ErrorCode.Timeout);
          if (request.archId === 'odd-code') throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
          return { latencyMsP50 };
        },
        { params: { hardwareClass }, queue: `profiler-${hardwareClass}` },
      );
    const subs = [serve('nvidia-t4', 't4-a', 12.5), serve('nvidia-t4', 't4-b', 12.5), serve('cpu-wasm', 'cpu', 900)];
    await consumer.flush();

    await expect(producer.request(profileRequest.to({ hardwareClass: 'nvidia-t4' }), { archId: 'a1' }, { reply: latencyStats })).resolves.toEqual({
      latencyMsP50: 12.5,
    });
    await expect(producer.request(profileRequest.to({ hardwareClass: 'cpu-wasm' }), { archId: 'a1' }, { reply: latencyStats })).resolves.toEqual({
      latencyMsP50: 900,
    });
    // One member of the t4 group answered; the cpu profiler only saw its own class.
    expect(handled.filter((h) => h.includes(':nvidia-t4:'))).toHaveLength(1);
    expect(handled.filter((h) => h.startsWith('cpu:'))).toEqual(['cpu:cpu-wasm:a1']);

    const failure = await producer
      .request(profileRequest.to({ hardwareClass: 'cpu-wasm' }), { archId: 'bad' }, { reply: latencyStats })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(BusRequestError);
    expect(failure).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'arch.backbone: unknown kind' });

    // A NATS outage inside the handler is UNAVAILABLE (retry), not NATS's own code; a code that is
    // no gRPC status becomes INTERNAL.
    const codeOf = (archId: string) =>
      producer.request(profileRequest.to({ hardwareClass: 'cpu-wasm' }), { archId }, { reply: latencyStats }).catch((err: unknown) => (err as BusRequestError).code);
    expect(await codeOf('nats-away')).toBe('UNAVAILABLE');
    expect(await codeOf('odd-code')).toBe('INTERNAL');

    const unserved = await producer
      .request(profileRequest.to({ hardwareClass: 'nvidia-a100' }), { archId: 'a1' }, { reply: latencyStats, timeoutMs: 1000 })
      .catch((err: unknown) => err);
    expect(unserved).toMatchObject({ code: 'UNAVAILABLE' });

    await Promise.all(subs.map((s) => s.drain()));
    // Each served request is one trace: the requester's PRODUCER span parents the server's CONSUMER span.
    const spans = exporter.getFinishedSpans();
    for (const consumerSpan of spans.filter(byKind(SpanKind.CONSUMER))) {
      const parent = spans.find((s) => s.spanContext().spanId === consumerSpan.parentSpanContext?.spanId);
      expect(parent?.kind).toBe(SpanKind.PRODUCER);
      expect(consumerSpan.attributes['messaging.destination.template']).toBe('nas.test.profile.request.{hardwareClass}');
    }
  });
});
