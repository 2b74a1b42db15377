import { EventEmitter } from 'node:events';
import { createChannel, createClient, type ServiceImplementation } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { HealthCheckResponse_ServingStatus as Serving } from 'nice-grpc-server-health/lib/proto/grpc/health/v1/health.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { EchoDefinition } from './__fixtures__/echo.js';
import { service, startServer } from './server.js';
import { createLifecycle, runUntilSignal } from './shutdown.js';

const quiet = { info: () => {}, error: () => {} };

const slowEcho: ServiceImplementation<typeof EchoDefinition> = {
  async echo(request) {
    await sleep(request.waitMs ?? 0);
    return { text: request.text };
  },
};

const start = () =>
  startServer({ serviceName: 'echo', services: [service(EchoDefinition, slowEcho)], host: '127.0.0.1', port: 0, logger: quiet });

describe('createLifecycle', () => {
  it('stops the servers, then runs the closers in order, then flushes telemetry, once', async () => {
    const server = await start();
    const steps: string[] = [];
    const lifecycle = createLifecycle({
      servers: [server],
      telemetry: { shutdown: async () => void steps.push('telemetry') },
      logger: quiet,
    });
    lifecycle.onShutdown('nats', async () => {
      expect(server.health.getStatus()).toBe('unhealthy');
      steps.push('nats');
    });
    lifecycle.onShutdown('failing', () => {
      throw new Error('closer failed');
    });
    lifecycle.onShutdown('cache', () => void steps.push('cache'));

    expect(lifecycle.stopping).toBe(false);
    const first = lifecycle.shutdown('test');
    expect(lifecycle.stopping).toBe(true);
    expect(lifecycle.shutdown('again')).toBe(first);
    await first;
    expect(steps).toEqual(['nats', 'cache', 'telemetry']);
  });
});

describe('runUntilSignal', () => {
  it('on SIGTERM goes NOT_SERVING, finishes the in-flight call, closes, and exits 0', async () => {
    const server = await start();
    const channel = createChannel(server.address);
    const signals = new EventEmitter();
    const exits: number[] = [];
    const closed: string[] = [];
    const lifecycle = runUntilSignal({
      signalSource: signals as unknown as NodeJS.Process,
      exit: (code) => void exits.push(code),
      logger: quiet,
      graceMs: 5000,
    });
    lifecycle.addServer(server);
    lifecycle.onShutdown('nats', () => void closed.push('nats'));

    const health = createClient(HealthDefinition, channel);
    expect((await health.check({ service: 'test.echo.v1.Echo' })).status).toBe(Serving.SERVING);
    const inFlight = createClient(EchoDefinition, channel).echo({ text: 'done', waitMs: 300 });
    await sleep(50);

    signals.emit('SIGTERM', 'SIGTERM');
    expect(server.health.getStatus('test.echo.v1.Echo')).toBe('unhealthy');
    await expect(inFlight).resolves.toEqual({ text: 'done' });
    await lifecycle.shutdown();
    await sleep(0);
    expect(closed).toEqual(['nats']);
    expect(exits).toEqual([0]);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
    channel.close();
  });

  it('a second signal while stopping forces the exit with code 1', async () => {
    const server = await start();
    const channel = createChannel(server.address);
    const signals = new EventEmitter();
    const exits: number[] = [];
    const lifecycle = runUntilSignal({
      servers: [server],
      signalSource: signals as unknown as NodeJS.Process,
      exit: (code) => void exits.push(code),
      logger: quiet,
      graceMs: 10_000,
    });
    const inFlight = createClient(EchoDefinition, channel)
      .echo({ text: 'slow', waitMs: 5000 })
      .catch((err: unknown) => err);
    await sleep(50);
    signals.emit('SIGINT', 'SIGINT');
    signals.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([1]);
    expect(await inFlight).toMatchObject({ code: 1 /* CANCELLED */ });
    await lifecycle.shutdown();
    channel.close();
  });
});
