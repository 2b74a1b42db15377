// Test helpers: an in-memory span exporter registered as the global tracer provider, and protoc
// compiling a test .proto into a FileDescriptorSet for server reflection.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

const registered = Symbol.for('@sm-nas/service-kit/testing.inMemoryTracing');

interface Registration {
  exporter: InMemorySpanExporter;
  provider: NodeTracerProvider;
}

/**
 * Registers (once per process, however often it is called) a NodeTracerProvider exporting
 * synchronously to an InMemorySpanExporter, with the same context manager and propagator as
 * `startTelemetry`, and returns the exporter. Call `exporter.reset()` between tests.
 */
export function useInMemoryTracing(serviceName = 'test'): InMemorySpanExporter {
  const global = globalThis as { [registered]?: Registration };
  const existing = global[registered];
  if (existing) return existing.exporter;
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  // Globals registered earlier would win silently; drop them so spans land here.
  trace.disable();
  context.disable();
  propagation.disable();
  provider.register({
    contextManager: new AsyncLocalStorageContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });
  global[registered] = { exporter, provider };
  return exporter;
}

/** Compiles `proto` (its text) with protoc (/usr/bin/protoc, from PATH) into a serialized FileDescriptorSet. */
export function compileProtoset(proto: string, fileName = 'test.proto'): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'sm-nas-protoset-'));
  try {
    writeFileSync(join(dir, fileName), proto);
    const out = join(dir, 'out.protoset');
    try {
      execFileSync('protoc', [`--proto_path=${dir}`, `--descriptor_set_out=${out}`, '--include_imports', fileName], {
        stdio: 'pipe',
      });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new Error(`protoc failed on ${fileName} (is protoc installed? Debian: protobuf-compiler): ${stderr || String(err)}`);
    }
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
