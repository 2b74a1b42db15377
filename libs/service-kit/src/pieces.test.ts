import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, parseConfig, variablesPiece } from './config.js';
import { natsPiece, servicePieces, tfjsBackendPiece } from './pieces.js';
import { DEFAULT_LIMITS } from './limits.js';
import { DEFAULT_PORTS } from './ports.js';

// The names and choices @sm-nas/tfjs-runtime passes (its TFJS_BACKEND_VARIABLES); the services'
// own config tests parse the real ones.
const BACKEND = {
  backend: 'SM_NAS_TFJS_BACKEND',
  choices: ['auto', 'wasm', 'cpu'],
  defaultBackend: 'auto',
  threads: 'SM_NAS_TFJS_THREADS',
  wasmThreads: 'SM_NAS_WASM_THREADS',
  webgpuAdapter: 'SM_NAS_WEBGPU_ADAPTER',
  native: 'SM_NAS_NATIVE',
  nativeOff: ['0', 'false', 'off', 'no'],
} as const;

const schema = configSchema({
  ...servicePieces('trainer'),
  nats: natsPiece(),
  backend: tfjsBackendPiece({ ...BACKEND, choices: ['auto', 'wasm', 'cpu'] as const }),
  own: variablesPiece({ TRAINER_JOB_ACK_WAIT_SECONDS: z.string().regex(/^\d+$/, 'seconds').optional() }),
});

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('a service schema of pieces', () => {
  it('parses its defaults from an empty environment', () => {
    expect(parseConfig(schema, {})).toEqual({
      listen: { host: '127.0.0.1', port: DEFAULT_PORTS.trainer },
      telemetry: { serviceName: 'trainer', tracesExporter: 'none', otlpEndpoint: undefined },
      security: { tls: undefined, clientTls: undefined, bearerToken: undefined, healthPort: undefined },
      limits: DEFAULT_LIMITS,
      nats: { url: undefined, security: undefined },
      backend: { backend: 'auto', threads: undefined, wasmThreads: undefined, webgpuAdapter: undefined, nativeKernels: true },
      own: { TRAINER_JOB_ACK_WAIT_SECONDS: undefined },
    });
  });

  it('names two bad variables of two pieces in one error', () => {
    const error = configError(() => parseConfig(schema, { TRAINER_PORT: 'http', GRPC_HEALTH_PORT: 'probe' }));
    expect(error.issues).toEqual([
      { variable: 'TRAINER_PORT', expected: 'an integer port 0..65535', received: 'http' },
      { variable: 'GRPC_HEALTH_PORT', expected: 'an integer port 0..65535', received: 'probe' },
    ]);
    expect(error.message).toMatch(/TRAINER_PORT: expected an integer port 0\.\.65535, got "http"/);
    expect(error.message).toMatch(/GRPC_HEALTH_PORT: expected an integer port 0\.\.65535, got "probe"/);
  });

  it('fails on a bad backend variable, with every other bad one', () => {
    const error = configError(() =>
      parseConfig(schema, { SM_NAS_TFJS_BACKEND: 'bogus', SM_NAS_TFJS_THREADS: '0', SM_NAS_NATIVE: 'maybe', NATS_URL: 'http://nats' }),
    );
    expect(error.issues.map((i) => i.variable)).toEqual(['NATS_URL', 'SM_NAS_TFJS_BACKEND', 'SM_NAS_TFJS_THREADS', 'SM_NAS_NATIVE']);
    expect(error.issues[1]).toEqual({ variable: 'SM_NAS_TFJS_BACKEND', expected: 'one of auto|wasm|cpu', received: 'bogus' });
  });

  it('reads the backend variables as the backend does', () => {
    const config = parseConfig(schema, { SM_NAS_TFJS_BACKEND: ' WASM ', SM_NAS_TFJS_THREADS: '2', SM_NAS_WASM_THREADS: '1', SM_NAS_NATIVE: 'off' });
    expect(config.backend).toEqual({ backend: 'wasm', threads: 2, wasmThreads: 1, webgpuAdapter: undefined, nativeKernels: false });
  });

  it('never echoes a secret a piece checks', () => {
    const error = configError(() => parseConfig(schema, { TRAINER_AUTH_TOKEN: 'short', TRAINER_PORT: '99999' }));
    expect(error.issues.find((i) => i.variable === 'TRAINER_AUTH_TOKEN')?.received).toBe('(5 characters)');
    expect(error.message).not.toContain('short');
  });

  it('says why a required NATS_URL is required', () => {
    const required = configSchema({ nats: natsPiece({ requiredFor: 'the journal lives on JetStream' }) });
    expect(configError(() => parseConfig(required, {})).issues).toEqual([
      { variable: 'NATS_URL', expected: 'nats://host:port (the journal lives on JetStream)', received: undefined },
    ]);
    expect(parseConfig(required, { NATS_URL: 'nats://nats:4222' }).nats.url).toBe('nats://nats:4222');
  });
});
