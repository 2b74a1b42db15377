// An in-memory span exporter registered globally, for the bus tests. (@sm-nas/service-kit/testing
// has the same helper; libs/bus does not depend on service-kit.)
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';

let exporter: InMemorySpanExporter | undefined;

export function useInMemoryTracing(): InMemorySpanExporter {
  if (exporter) return exporter;
  exporter = new InMemorySpanExporter();
  trace.disable();
  context.disable();
  propagation.disable();
  new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register({
    contextManager: new AsyncLocalStorageContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });
  return exporter;
}

/** Resolves when `probe` returns something truthy, polling; rejects after `timeoutMs`. */
export async function eventually<T>(probe: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
