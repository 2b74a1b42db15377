// One trace per candidate: the span tree of one evaluation, from the controller's
// `candidate.evaluate` through gRPC (flops) and NATS (the profiler's
// request/reply, the training work queue, the result) back to the controller. The context crosses
// each hop only in gRPC metadata or NATS headers: a consumer's handler runs in its subscription's
// context, not the publisher's, so a parent link here is propagation at work. The suggestion round
// that proposed the candidate serves several candidates: it is a trace of its own, and the
// candidate's holds a span over its time with a link to it. The architecture was validated where it
// entered the search, so the evaluation makes no call to the searchspace service.
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR_NAS_TRAIN_STATUS } from '@sm-nas/service-kit';
import { useInMemoryTracing } from '@sm-nas/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardwareClassToken } from '@sm-nas/bus';
import { hardwareClass, startSearchMesh, SUCCEEDED, tinySpec, type SearchMesh } from './fixtures/search-mesh.js';

const exporter = useInMemoryTracing('search-trace-test');

let mesh: SearchMesh;
beforeAll(async () => {
  mesh = await startSearchMesh();
}, 120_000);
afterAll(async () => {
  await mesh?.stop();
});

async function eventually<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the trace of one candidate', () => {
  it('is one tree rooted at candidate.evaluate spanning flops, profiler and trainer', async () => {
    exporter.reset();
    // No baseline: the one candidate comes from the suggestion service.
    const spec = tinySpec({
      initialArchitectures: [],
      structural: { maxCandidates: 1, populationSize: 1, paretoModels: 1 },
      modular: { maxCandidates: 0, populationSize: 0, paretoModels: 0 },
      parallelism: 1,
    });
    await mesh.client.createSearch({ spec, searchId: 'traced' });
    for await (const _ of mesh.client.watchSearch({ searchId: 'traced', afterSequence: 0 })) void _;
    expect((await mesh.client.getSearch({ searchId: 'traced' })).search?.state).toBe(SUCCEEDED);
    const [candidate] = (await mesh.client.listCandidates({ searchId: 'traced', stage: 0, pageSize: 0, pageToken: '' })).candidates;
    const traceId = candidate!.traceId;

    const root = await eventually(() =>
      exporter.getFinishedSpans().find((s) => s.name === 'candidate.evaluate' && s.spanContext().traceId === traceId),
    );
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    expect(root.parentSpanContext).toBeUndefined();
    expect(root.attributes).toMatchObject({
      'nas.candidate.id': candidate!.candidateId,
      'nas.search.id': 'traced',
      'nas.search.stage': 'structural',
      'nas.arch.id': candidate!.architecture!.id,
    });

    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const chain = (s: ReadableSpan): string[] => {
      const names = [s.name];
      let at = s;
      while (at.parentSpanContext) {
        const parent = byId.get(at.parentSpanContext.spanId);
        if (!parent) return [...names, '<missing parent>'];
        names.push(parent.name);
        at = parent;
      }
      return names;
    };
    // Every span of the trace hangs from the root.
    for (const s of spans) expect(chain(s).at(-1)).toBe('candidate.evaluate');

    const find = (name: string, kind: SpanKind) => {
      const found = spans.filter((s) => s.name === name && s.kind === kind);
      expect(found, `${SpanKind[kind]} ${name}`).toHaveLength(1);
      return found[0]!;
    };
    // gRPC: client span in the controller, server span in the service, one under the other.
    for (const method of ['nas.flops.v1.FlopsService/Count']) {
      const client = find(method, SpanKind.CLIENT);
      const server = find(method, SpanKind.SERVER);
      expect(client.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
      expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    }
    expect(spans.filter((s) => s.name === 'nas.searchspace.v1.SearchSpaceService/Validate')).toHaveLength(0);
    // NATS request/reply to the profilers of the search's hardware class.
    const profileSend = find('send nas.profile.request.{hardwareClass}', SpanKind.PRODUCER);
    const profileProcess = find('process nas.profile.request.{hardwareClass}', SpanKind.CONSUMER);
    expect(profileSend.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(profileProcess.parentSpanContext?.spanId).toBe(profileSend.spanContext().spanId);
    // The profiler measured inside that trace too.
    expect(spans.filter((s) => s.parentSpanContext?.spanId === profileProcess.spanContext().spanId).length).toBeGreaterThan(0);
    expect(profileSend.attributes['messaging.destination.name']).toBe(`nas.profile.request.${hardwareClassToken(hardwareClass)}`);
    // The work queue: published by the controller, processed by a trainer, trained there (the
    // trainer's own Trainer, no gRPC hop), the result published back to the journal.
    const jobSend = find('send nas.train.job', SpanKind.PRODUCER);
    const jobProcess = find('process nas.train.job', SpanKind.CONSUMER);
    const training = find('trainer.train', SpanKind.INTERNAL);
    const resultSend = find('send nas.train.result.{searchId}', SpanKind.PRODUCER);
    expect(jobSend.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(jobProcess.parentSpanContext?.spanId).toBe(jobSend.spanContext().spanId);
    expect(training.parentSpanContext?.spanId).toBe(jobProcess.spanContext().spanId);
    expect(training.attributes[ATTR_NAS_TRAIN_STATUS]).toBe('TRAIN_STATUS_SUCCEEDED');
    expect(spans.filter((s) => s.name === 'nas.trainer.v1.TrainerService/Train')).toHaveLength(0);
    expect(resultSend.parentSpanContext?.spanId).toBe(jobProcess.spanContext().spanId);
    expect(jobProcess.attributes['messaging.consumer.group.name']).toBe('trainers');
    // The suggestion that made it: a span over the round's time, linked to the round's own trace
    // (one round serves several candidates), where the suggestion service's work is.
    const suggest = find('candidate.suggest', SpanKind.INTERNAL);
    expect(suggest.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(suggest.attributes['nas.candidate.origin']).toBe(candidate!.origin);
    const roundLink = suggest.links[0]!.context;
    const roundSpans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === roundLink.traceId);
    expect(roundSpans.find((s) => s.spanContext().spanId === roundLink.spanId)?.name).toBe('suggestion.round');
    expect(roundSpans.map((s) => `${SpanKind[s.kind]} ${s.name}`)).toEqual(
      expect.arrayContaining(['CLIENT nas.suggestion.v1.SuggestionService/GetSuggestions', 'SERVER nas.suggestion.v1.SuggestionService/GetSuggestions', 'SERVER nas.searchspace.v1.SearchSpaceService/Sample']),
    );
    // The root covers the whole evaluation, training included.
    const end = (s: ReadableSpan) => s.endTime[0] * 1e9 + s.endTime[1];
    expect(end(root)).toBeGreaterThanOrEqual(end(training));
    // Another candidate of another search is another trace.
    expect(exporter.getFinishedSpans().filter((s) => s.name === 'candidate.evaluate' && s.spanContext().traceId === traceId)).toHaveLength(1);
  }, 600_000);
});
