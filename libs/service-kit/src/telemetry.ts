// Tracing setup (OpenTelemetry JS 2.x): one NodeTracerProvider per process, registered globally
// with the AsyncLocalStorage context manager and the W3C trace-context propagator, so the gRPC
// middleware, the NATS bus and handler code all see the same active span.
import type { Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TelemetryConfig } from './config.js';

export interface Telemetry {
  /** A tracer named after the service, for the service's own spans. */
  tracer: Tracer;
  provider: NodeTracerProvider;
  /** Flushes pending spans and shuts the exporter down. Safe to call more than once. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  serviceVersion?: string;
  /** Extra span processors (tests, custom exporters), added after the configured exporter's. */
  spanProcessors?: SpanProcessor[];
}

function exporterProcessors(config: TelemetryConfig): SpanProcessor[] {
  switch (config.tracesExporter) {
    case 'otlp':
      return [
        new BatchSpanProcessor(new OTLPTraceExporter(config.otlpEndpoint ? { url: config.otlpEndpoint } : {})),
      ];
    case 'console':
      return [new SimpleSpanProcessor(new ConsoleSpanExporter())];
    case 'none':
      return [];
  }
}

/** Creates and registers the process's tracer provider; call once, early in main(). */
export function startTelemetry(config: TelemetryConfig, options: TelemetryOptions = {}): Telemetry {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.serviceName,
      ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
    }),
    spanProcessors: [...exporterProcessors(config), ...(options.spanProcessors ?? [])],
  });
  provider.register({
    contextManager: new AsyncLocalStorageContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });
  let done: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(config.serviceName, options.serviceVersion),
    provider,
    shutdown: () => (done ??= provider.shutdown()),
  };
}
