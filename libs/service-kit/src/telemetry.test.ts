import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ATTR_NAS_CANDIDATE_ID } from './attributes.js';
import { startTelemetry, type Telemetry } from './telemetry.js';

describe('startTelemetry', () => {
  let telemetry: Telemetry | undefined;
  afterEach(async () => {
    await telemetry?.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('registers a provider, the W3C propagator and async context, with the service name', async () => {
    const exporter = new InMemorySpanExporter();
    telemetry = startTelemetry(
      { serviceName: 'flops', tracesExporter: 'none', otlpEndpoint: undefined },
      { spanProcessors: [new SimpleSpanProcessor(exporter)] },
    );
    const carrier: Record<string, string> = {};
    await telemetry.tracer.startActiveSpan('flops.count', async (span) => {
      await new Promise((r) => setTimeout(r, 1));
      // The active span survives an await: the AsyncLocalStorage context manager is in place.
      expect(trace.getActiveSpan()).toBe(span);
      propagation.inject(context.active(), carrier);
      span.setAttribute(ATTR_NAS_CANDIDATE_ID, 'c-1');
      span.end();
    });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('flops.count');
    expect(span?.resource.attributes['service.name']).toBe('flops');
    expect(span?.attributes['nas.candidate.id']).toBe('c-1');
    expect(carrier.traceparent).toBe(`00-${span?.spanContext().traceId}-${span?.spanContext().spanId}-01`);
  });

  it('builds an OTLP exporter from the config, and shutdown is idempotent', async () => {
    telemetry = startTelemetry({ serviceName: 'x', tracesExporter: 'otlp', otlpEndpoint: 'http://127.0.0.1:1' });
    const first = telemetry.shutdown();
    expect(telemetry.shutdown()).toBe(first);
    await first;
  });
});
