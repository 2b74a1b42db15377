import { SpanKind, trace } from '@opentelemetry/api';
import { nanos } from 'nats';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, useInMemoryTracing } from './__fixtures__/tracing.js';
import { connectBus, RetentionPolicy, type Bus, type JetStreamDelivery } from './index.js';
import { jsonCodec } from './codec.js';
import { defineSubject } from './subject.js';
import { startNatsServer, type NatsServer } from './testing/index.js';

const exporter = useInMemoryTracing();
const quiet = { info: () => {}, error: () => {} };

interface CandidateTrained {
  candidateId: string;
  mapCoco: number;
}
interface TrainJob {
  jobId: number;
}

const candidateTrained = defineSubject({ subject: 'nas.test.candidate.trained', codec: jsonCodec<CandidateTrained>() });
const trainJob = defineSubject({ subject: 'nas.test.train.job', codec: jsonCodec<TrainJob>() });

describe('Bus on JetStream', () => {
  let server: NatsServer;
  let bus: Bus;
  let worker: Bus;
  let stream = 0;
  let name: string;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    bus = await connectBus({ servers: server.url, name: 'test-producer', logger: quiet });
    worker = await connectBus({ servers: server.url, name: 'test-worker', logger: quiet });
  });
  afterAll(async () => {
    await bus?.close();
    await worker?.close();
    await server?.stop();
  });
  beforeEach(async () => {
    exporter.reset();
    // A fresh stream per test, each over its own subjects.
    name = `TEST_${++stream}`;
    for (const s of (await bus.jsm.streams.names().next()) ?? []) await bus.jsm.streams.delete(s);
  });

  it('creates a stream, and ensuring it again updates it in place', async () => {
    const first = await bus.ensureStream({ name, subjects: ['nas.test.candidate.>'], max_msgs: 100 });
    expect(first.config.max_msgs).toBe(100);
    await bus.publishDurable(candidateTrained, { candidateId: 'c-1', mapCoco: 0.3 });
    const second = await bus.ensureStream({ name, subjects: ['nas.test.candidate.>'], max_msgs: 1000 });
    expect(second.config.max_msgs).toBe(1000);
    expect(second.state.messages).toBe(1);
  });

  it('carries the trace context from a durable publish to the durable consumer', async () => {
    await bus.ensureStream({ name, subjects: ['nas.test.candidate.>'] });
    await worker.ensureConsumer(name, { durable_name: 'controller' });
    const seen: string[] = [];
    const consumption = await worker.consume(name, 'controller', candidateTrained, (value) => {
      seen.push(`${value.candidateId}@${trace.getActiveSpan()?.spanContext().traceId}`);
    });

    const parent = await trace.getTracer('test').startActiveSpan('trainer.train', async (span) => {
      await bus.publishDurable(candidateTrained, { candidateId: 'c-7', mapCoco: 0.41 }, { msgId: 'c-7/trained' });
      span.end();
      return span.spanContext();
    });
    await eventually(() => seen.length === 1);
    await consumption.stop();

    expect(seen).toEqual([`c-7@${parent.traceId}`]);
    const spans = exporter.getFinishedSpans();
    const producerSpan = spans.find((s) => s.kind === SpanKind.PRODUCER);
    const consumerSpan = spans.find((s) => s.kind === SpanKind.CONSUMER);
    expect(producerSpan?.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(consumerSpan?.spanContext().traceId).toBe(parent.traceId);
    expect(consumerSpan?.parentSpanContext?.spanId).toBe(producerSpan?.spanContext().spanId);
    expect(consumerSpan?.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': 'nas.test.candidate.trained',
      'messaging.consumer.group.name': 'controller',
      'messaging.message.id': 'c-7/trained',
      'messaging.nats.delivery_count': 1,
    });
  });

  it('de-duplicates publishes with the same message id', async () => {
    await bus.ensureStream({ name, subjects: ['nas.test.candidate.>'], duplicate_window: nanos(60_000) });
    const first = await bus.publishDurable(candidateTrained, { candidateId: 'c-1', mapCoco: 0.3 }, { msgId: 'c-1/trained' });
    const retry = await bus.publishDurable(candidateTrained, { candidateId: 'c-1', mapCoco: 0.3 }, { msgId: 'c-1/trained' });
    const other = await bus.publishDurable(candidateTrained, { candidateId: 'c-2', mapCoco: 0.2 }, { msgId: 'c-2/trained' });
    expect(first.duplicate).toBe(false);
    expect(retry).toMatchObject({ duplicate: true, seq: first.seq });
    expect(other.duplicate).toBe(false);
    expect((await bus.jsm.streams.info(name)).state.messages).toBe(2);
  });

  it('redelivers a message its handler left unacked', async () => {
    await bus.ensureStream({ name, subjects: ['nas.test.candidate.>'] });
    await worker.ensureConsumer(name, { durable_name: 'slow', ack_wait: nanos(500) });
    const deliveries: Pick<JetStreamDelivery, 'deliveryCount' | 'redelivered'>[] = [];
    const consumption = await worker.consume(
      name,
      'slow',
      candidateTrained,
      (_, delivery) => {
        deliveries.push({ deliveryCount: delivery.deliveryCount, redelivered: delivery.redelivered });
        // The first delivery is "lost": neither acked nor nak'ed, as if the worker died.
        if (delivery.deliveryCount > 1) delivery.ack();
      },
      { ack: 'manual' },
    );
    await bus.publishDurable(candidateTrained, { candidateId: 'c-3', mapCoco: 0.1 });
    await eventually(() => deliveries.length === 2);
    await consumption.stop();
    expect(deliveries).toEqual([
      { deliveryCount: 1, redelivered: false },
      { deliveryCount: 2, redelivered: true },
    ]);
    await eventually(async () => (await worker.jsm.consumers.info(name, 'slow')).num_ack_pending === 0);
  });

  it('redelivers after a handler throws (auto ack mode naks)', async () => {
    await bus.ensureStream({ name, subjects: ['nas.test.candidate.>'] });
    await worker.ensureConsumer(name, { durable_name: 'flaky' });
    let attempts = 0;
    const consumption = await worker.consume(name, 'flaky', candidateTrained, () => {
      attempts++;
      if (attempts === 1) throw new Error('transient');
    });
    await bus.publishDurable(candidateTrained, { candidateId: 'c-4', mapCoco: 0.1 });
    await eventually(() => attempts === 2);
    await consumption.stop();
    await eventually(async () => {
      const info = await worker.jsm.consumers.info(name, 'flaky');
      return info.num_pending + info.num_ack_pending === 0;
    });
  });

  it('shares a work queue between two workers, each job processed once', async () => {
    await bus.ensureStream({ name, subjects: ['nas.test.train.>'], retention: RetentionPolicy.Workqueue });
    await bus.ensureConsumer(name, { durable_name: 'trainers', ack_wait: nanos(30_000) });
    const other = await connectBus({ servers: server.url, name: 'test-worker-2', logger: quiet });
    const processed = new Map<number, string[]>();
    const work = (who: string) => async (job: TrainJob) => {
      processed.set(job.jobId, [...(processed.get(job.jobId) ?? []), who]);
      await sleep(15);
    };
    const a = await worker.consume(name, 'trainers', trainJob, work('a'));
    const b = await other.consume(name, 'trainers', trainJob, work('b'));
    const jobs = 20;
    for (let jobId = 0; jobId < jobs; jobId++) await bus.publishDurable(trainJob, { jobId }, { msgId: `job-${jobId}` });
    await eventually(() => processed.size === jobs, 10_000);
    await sleep(100);
    await Promise.all([a.stop(), b.stop()]);
    await other.close();

    expect([...processed.values()].every((who) => who.length === 1)).toBe(true);
    const byWorker = [...processed.values()].flat();
    expect(byWorker.filter((w) => w === 'a').length).toBeGreaterThan(0);
    expect(byWorker.filter((w) => w === 'b').length).toBeGreaterThan(0);
    // Work-queue retention: acked jobs leave the stream.
    await eventually(async () => (await bus.jsm.streams.info(name)).state.messages === 0);
  });
});

describe('JetStream KV', () => {
  it('keeps values across a nats-server restart on the same store', async () => {
    const server = await startNatsServer({ jetstream: true });
    try {
      interface LatencyEntry {
        latencyMsP50: number;
      }
      const codec = jsonCodec<LatencyEntry>();
      let bus = await connectBus({ servers: server.url, name: 'kv-writer', logger: quiet });
      const cache = await bus.kv('test-latency-cache', codec, { history: 1 });
      expect(await cache.get('arch-1.nvidia-t4')).toBeUndefined();
      await cache.put('arch-1.nvidia-t4', { latencyMsP50: 12.5 });
      await cache.put('arch-2.nvidia-t4', { latencyMsP50: 30 });
      await cache.delete('arch-2.nvidia-t4');
      expect(await cache.get('arch-1.nvidia-t4')).toEqual({ latencyMsP50: 12.5 });
      await bus.close();

      const port = server.port;
      await server.kill('SIGKILL');
      await server.restart();
      expect(server.port).toBe(port);

      bus = await connectBus({ servers: server.url, name: 'kv-reader', logger: quiet });
      const reopened = await bus.kv('test-latency-cache', codec);
      expect(await reopened.get('arch-1.nvidia-t4')).toEqual({ latencyMsP50: 12.5 });
      expect(await reopened.get('arch-2.nvidia-t4')).toBeUndefined();
      await bus.close();
    } finally {
      await server.stop();
    }
  });
});
