import { SpanKind } from '@opentelemetry/api';
import { ClientError, createChannel, createClient, Status, type Channel, type ServiceImplementation } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { HealthCheckResponse_ServingStatus as Serving } from 'nice-grpc-server-health/lib/proto/grpc/health/v1/health.js';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { ServerReflectionService } from 'nice-grpc-server-reflection';
import { ServerReflectionRequest } from 'nice-grpc-server-reflection/lib/proto/grpc/reflection/v1/reflection_pb.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ECHO_PROTO, EchoDefinition, type EchoRequest } from './__fixtures__/echo.js';
import { InvalidArgumentError } from './errors.js';
import { service, startServer, type RunningServer, type TerminatorContext } from './server.js';
import { compileProtoset, useInMemoryTracing } from './testing/index.js';

const exporter = useInMemoryTracing();

const echo: ServiceImplementation<typeof EchoDefinition, TerminatorContext> = {
  async echo(request: EchoRequest, context) {
    switch (request.behaviour) {
      case 'invalid':
        throw new InvalidArgumentError('backbone.kind', 'unknown');
      case 'not-found':
        throw Object.assign(new Error(`candidate ${request.text} not found`), { code: 'NOT_FOUND' });
      case 'crash':
        throw new Error('boom');
      case 'wait':
        await sleep(request.waitMs ?? 100);
        return { text: request.text };
      case 'hang':
        await new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason)));
        return { text: 'unreachable' };
      default:
        return { text: request.text };
    }
  },
};

function quietLogger() {
  const lines: string[] = [];
  return { lines, info: () => {}, error: (m: string) => void lines.push(m) };
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ClientError) return { code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('startServer', () => {
  let server: RunningServer;
  let channel: Channel;
  let logger: ReturnType<typeof quietLogger>;

  beforeEach(async () => {
    logger = quietLogger();
    server = await startServer({
      serviceName: 'echo',
      services: [service(EchoDefinition, echo)],
      protoset: compileProtoset(ECHO_PROTO),
      host: '127.0.0.1',
      port: 0,
      maxReceiveMessageBytes: 1024,
      logger,
    });
    channel = createChannel(server.address);
    exporter.reset();
  });

  afterEach(async () => {
    channel.close();
    await server.shutdown({ graceMs: 1000 });
  });

  it('binds a free port on loopback and serves', async () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.address).toBe(`127.0.0.1:${server.port}`);
    expect(server.serviceNames).toEqual(['test.echo.v1.Echo']);
    const client = createClient(EchoDefinition, channel);
    await expect(client.echo({ text: 'hi' })).resolves.toEqual({ text: 'hi' });
  });

  it('reports SERVING overall and per service, NOT_FOUND for unknown services', async () => {
    const health = createClient(HealthDefinition, channel);
    expect((await health.check({ service: '' })).status).toBe(Serving.SERVING);
    expect((await health.check({ service: 'test.echo.v1.Echo' })).status).toBe(Serving.SERVING);
    expect((await codeOf(health.check({ service: 'nope.v1.Nope' }))).code).toBe(Status.NOT_FOUND);
  });

  it('lists the services by reflection', async () => {
    const reflection = createClient(ServerReflectionService, channel);
    async function* requests() {
      yield new ServerReflectionRequest().setListServices('*');
      yield new ServerReflectionRequest().setFileContainingSymbol('test.echo.v1.Echo');
      yield new ServerReflectionRequest().setFileContainingSymbol('grpc.health.v1.Health');
    }
    const responses = [];
    for await (const response of reflection.serverReflectionInfo(requests())) responses.push(response);
    const [list, file, health] = responses;
    // The health service is served by every server, so a client discovering the API sees it too.
    expect(list?.getListServicesResponse()?.getServiceList().map((s) => s.getName())).toEqual(['test.echo.v1.Echo', 'grpc.health.v1.Health']);
    expect(file?.getFileDescriptorResponse()?.getFileDescriptorProtoList()).toHaveLength(1);
    const [healthFile] = health?.getFileDescriptorResponse()?.getFileDescriptorProtoList_asU8() ?? [];
    const described = fromBinary(FileDescriptorProtoSchema, healthFile!);
    expect(described.service.map((s) => `${described.package}.${s.name}`)).toEqual(['grpc.health.v1.Health']);
    expect(described.service[0]!.method.map((m) => m.name)).toEqual(['Check', 'Watch']);
  });

  it('maps domain errors to their status with the field in the message, and keeps serving', async () => {
    const client = createClient(EchoDefinition, channel);
    expect(await codeOf(client.echo({ text: 'x', behaviour: 'invalid' }))).toEqual({
      code: Status.INVALID_ARGUMENT,
      details: 'backbone.kind: unknown',
    });
    expect(await codeOf(client.echo({ text: 'c-42', behaviour: 'not-found' }))).toEqual({
      code: Status.NOT_FOUND,
      details: 'candidate c-42 not found',
    });
    await expect(client.echo({ text: 'still here' })).resolves.toEqual({ text: 'still here' });
  });

  it('turns an unexpected error into INTERNAL, logs its stack and keeps serving', async () => {
    const client = createClient(EchoDefinition, channel);
    expect(await codeOf(client.echo({ text: 'x', behaviour: 'crash' }))).toEqual({
      code: Status.INTERNAL,
      details: 'internal error',
    });
    expect(logger.lines.join('\n')).toMatch(/\/test\.echo\.v1\.Echo\/Echo: internal error: Error: boom\n\s+at /);
    await expect(client.echo({ text: 'ok' })).resolves.toEqual({ text: 'ok' });
  });

  it('rejects a request over the size limit with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const client = createClient(EchoDefinition, channel);
    const { code } = await codeOf(client.echo({ text: 'x'.repeat(2048) }));
    expect(code).toBe(Status.RESOURCE_EXHAUSTED);
    await expect(client.echo({ text: 'small' })).resolves.toEqual({ text: 'small' });
  });

  it('records a server span per call, with the gRPC status, and none for health checks', async () => {
    const client = createClient(EchoDefinition, channel);
    await client.echo({ text: 'traced' });
    await codeOf(client.echo({ text: 'x', behaviour: 'invalid' }));
    await createClient(HealthDefinition, channel).check({ service: '' });
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['test.echo.v1.Echo/Echo', 'test.echo.v1.Echo/Echo']);
    expect(spans.every((s) => s.kind === SpanKind.SERVER)).toBe(true);
    expect(spans.map((s) => s.attributes['rpc.grpc.status_code'])).toEqual([Status.OK, Status.INVALID_ARGUMENT]);
  });

  it('on shutdown: NOT_SERVING at once, in-flight calls finish, new calls are refused', async () => {
    const client = createClient(EchoDefinition, channel);
    const health = createClient(HealthDefinition, channel);
    const watch = health.watch({ service: 'test.echo.v1.Echo' })[Symbol.asyncIterator]();
    expect((await watch.next()).value).toEqual({ status: Serving.SERVING });

    const inFlight = client.echo({ text: 'slow', behaviour: 'wait', waitMs: 300 });
    await sleep(50);
    const stopping = server.shutdown({ graceMs: 5000 });
    expect(server.health.getStatus()).toBe('unhealthy');
    expect(server.health.getStatus('test.echo.v1.Echo')).toBe('unhealthy');
    expect((await watch.next()).value).toEqual({ status: Serving.NOT_SERVING });
    await expect(inFlight).resolves.toEqual({ text: 'slow' });
    await stopping;
    const { code } = await codeOf(createClient(EchoDefinition, createChannel(server.address)).echo({ text: 'late' }));
    expect(code).toBe(Status.UNAVAILABLE);
  });

  it('cancels calls still running after the grace period', async () => {
    const client = createClient(EchoDefinition, channel);
    const hanging = codeOf(client.echo({ text: 'x', behaviour: 'hang' }));
    await sleep(50);
    const started = Date.now();
    await server.shutdown({ graceMs: 200 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await hanging).code).toBe(Status.CANCELLED);
  });
});

describe('startServer without a protoset', () => {
  it('serves no reflection', async () => {
    const server = await startServer({
      serviceName: 'echo',
      services: [service(EchoDefinition, echo)],
      host: '127.0.0.1',
      port: 0,
      logger: quietLogger(),
    });
    const channel = createChannel(server.address);
    try {
      const reflection = createClient(ServerReflectionService, channel);
      async function* one() {
        yield new ServerReflectionRequest().setListServices('*');
      }
      const { code } = await codeOf(
        (async () => {
          for await (const _ of reflection.serverReflectionInfo(one()));
        })(),
      );
      expect(code).toBe(Status.UNIMPLEMENTED);
    } finally {
      channel.close();
      await server.shutdown();
    }
  });
});
