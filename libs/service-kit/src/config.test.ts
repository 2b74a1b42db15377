import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ConfigError, envVar, loadServiceConfig, runMain } from './config.js';
import { DEFAULT_PORTS } from './ports.js';

describe('loadServiceConfig', () => {
  it('defaults to loopback, the service port and no exporter', () => {
    expect(loadServiceConfig({ service: 'flops', defaultPort: DEFAULT_PORTS.flops }, {})).toEqual({
      service: 'flops',
      host: '127.0.0.1',
      port: DEFAULT_PORTS.flops,
      natsUrl: undefined,
      telemetry: { serviceName: 'flops', tracesExporter: 'none', otlpEndpoint: undefined },
      extra: {},
    });
  });

  it('reads the prefixed and standard variables', () => {
    const config = loadServiceConfig(
      { service: 'search-space', defaultPort: DEFAULT_PORTS.searchspace },
      {
        SEARCH_SPACE_HOST: '0.0.0.0',
        SEARCH_SPACE_PORT: '0',
        NATS_URL: 'nats://nats:4222,nats://nats-2:4222',
        OTEL_SERVICE_NAME: 'searchspace',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4317',
      },
    );
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 0,
      natsUrl: 'nats://nats:4222,nats://nats-2:4222',
      telemetry: { serviceName: 'searchspace', tracesExporter: 'otlp', otlpEndpoint: 'http://otel-collector:4317' },
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadServiceConfig({ service: 'flops', defaultPort: 7 }, { FLOPS_PORT: '', NATS_URL: '' })).toMatchObject({
      port: 7,
      natsUrl: undefined,
    });
  });

  it('names every bad variable and what it expected in one error', () => {
    let error: unknown;
    try {
      loadServiceConfig(
        { service: 'flops', defaultPort: DEFAULT_PORTS.flops, extra: { FLOPS_CACHE_SIZE: envVar.positiveInt() } },
        { FLOPS_PORT: 'http', OTEL_TRACES_EXPORTER: 'jaeger', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' },
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, message } = error as ConfigError;
    expect(issues.map((i) => i.variable)).toEqual([
      'FLOPS_PORT',
      'OTEL_TRACES_EXPORTER',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'FLOPS_CACHE_SIZE',
    ]);
    expect(message).toContain('FLOPS_PORT: expected an integer port 0..65535, got "http"');
    expect(message).toContain('OTEL_TRACES_EXPORTER: expected one of otlp|console|none, got "jaeger"');
    expect(message).toContain('OTEL_EXPORTER_OTLP_ENDPOINT: expected a URL such as http://host:4317, got "collector"');
    expect(message).toContain('FLOPS_CACHE_SIZE: expected a positive integer, but it is not set');
  });

  it('rejects a port out of range and a bad NATS URL', () => {
    expect(() => loadServiceConfig({ service: 'flops', defaultPort: 1 }, { FLOPS_PORT: '70000' })).toThrow(
      /FLOPS_PORT: expected an integer port 0\.\.65535, got "70000"/,
    );
    expect(() => loadServiceConfig({ service: 'flops', defaultPort: 1 }, { NATS_URL: 'http://x y' })).toThrow(/NATS_URL: expected nats:\/\/host:port/);
  });

  it('parses and types the extra variables', () => {
    const config = loadServiceConfig(
      {
        service: 'profiler',
        defaultPort: DEFAULT_PORTS.profiler,
        extra: { PROFILER_HARDWARE_CLASS: envVar.string(), PROFILER_WARMUP_RUNS: envVar.positiveInt().default('5') },
      },
      { PROFILER_HARDWARE_CLASS: 'nvidia-t4' },
    );
    const hardware: string = config.extra.PROFILER_HARDWARE_CLASS;
    expect(hardware).toBe('nvidia-t4');
    expect(config.extra.PROFILER_WARMUP_RUNS).toBe(5);
  });

  it('accepts any zod schema for an extra variable', () => {
    const config = loadServiceConfig(
      { service: 'x', defaultPort: 1, extra: { X_MODE: z.enum(['a', 'b']) } },
      { X_MODE: 'b' },
    );
    expect(config.extra.X_MODE).toBe('b');
  });
});

describe('runMain', () => {
  function io() {
    const calls = { exit: [] as number[], error: [] as string[] };
    return { calls, exit: (c: number) => void calls.exit.push(c), error: (m: string) => void calls.error.push(m) };
  }

  it('prints a ConfigError and exits 2', async () => {
    const out = io();
    await runMain(() => loadServiceConfig({ service: 'flops', defaultPort: 1 }, { FLOPS_PORT: 'x' }), out);
    expect(out.calls.exit).toEqual([2]);
    expect(out.calls.error[0]).toMatch(/^invalid configuration \(environment variables\):\n {2}FLOPS_PORT: /);
  });

  it('exits 1 on any other startup failure, and returns main()s value otherwise', async () => {
    const out = io();
    await runMain(() => Promise.reject(new Error('port in use')), out);
    expect(out.calls.exit).toEqual([1]);
    expect(out.calls.error[0]).toContain('Error: port in use');
    await expect(runMain(() => 42, io())).resolves.toBe(42);
  });
});
