// Configuration comes only from environment variables, parsed once at start with a zod schema.
// A missing or bad value throws one ConfigError naming every bad variable and what it expected;
// `runMain` prints that and exits with code 2 (as a usage error), so a misconfigured pod fails fast
// with a readable log line instead of a stack trace.
import { z } from 'zod';

export type Env = Readonly<Record<string, string | undefined>>;

export const TRACES_EXPORTERS = ['otlp', 'console', 'none'] as const;
export type TracesExporter = (typeof TRACES_EXPORTERS)[number];

/** What `startTelemetry` needs; the `telemetry` part of every service's config. */
export interface TelemetryConfig {
  /** `OTEL_SERVICE_NAME`, defaulting to the service's own name. */
  serviceName: string;
  /** `OTEL_TRACES_EXPORTER`: otlp | console | none (default none). */
  tracesExporter: TracesExporter;
  /** `OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. http://otel-collector:4317; the exporter's default if unset. */
  otlpEndpoint: string | undefined;
}

export interface ServiceConfig<Extra = Record<never, never>> {
  service: string;
  /** `<SERVICE>_HOST`, default 127.0.0.1 (loopback unless a deployment says otherwise). */
  host: string;
  /** `<SERVICE>_PORT`, default given by the service; 0 picks any free port. */
  port: number;
  /** `NATS_URL` (one URL or a comma-separated list); undefined when the service runs without a bus. */
  natsUrl: string | undefined;
  telemetry: TelemetryConfig;
  /** The service's own variables, parsed from the `extra` shape, keyed by variable name. */
  extra: Extra;
}

export interface ConfigIssue {
  /** The environment variable, e.g. `FLOPS_PORT`. */
  variable: string;
  /** What was expected, e.g. `an integer port 0..65535`. */
  expected: string;
  /** The value found, or undefined when the variable was not set. */
  received: string | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map(
      (i) => `  ${i.variable}: expected ${i.expected}, ${i.received === undefined ? 'but it is not set' : `got ${JSON.stringify(i.received)}`}`,
    );
    super(`invalid configuration (environment variables):\n${lines.join('\n')}`);
    this.issues = issues;
  }
}

/** `flops` -> `FLOPS`, `search-space` -> `SEARCH_SPACE`. */
export function envPrefix(service: string): string {
  return service.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

/** Zod schemas for single variables whose messages read well after "expected". */
export const envVar = {
  string: (what = 'a non-empty string') => z.string({ required_error: what }).min(1, what),
  port: () =>
    z
      .string({ required_error: 'an integer port 0..65535' })
      .regex(/^\d+$/, 'an integer port 0..65535')
      .transform(Number)
      .refine((n) => n <= 65535, 'an integer port 0..65535'),
  host: () => z.string().regex(/^[A-Za-z0-9.:\-[\]]+$/, 'a host name or IP address (e.g. 127.0.0.1 or 0.0.0.0)'),
  url: (what = 'a URL such as http://host:4317') => z.string().refine((s) => URL.canParse(s), what),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T) =>
    z.enum(values as unknown as [T[number], ...T[number][]], {
      errorMap: () => ({ message: `one of ${values.join('|')}` }),
    }),
  positiveInt: (what = 'a positive integer') =>
    z.string({ required_error: what }).regex(/^[1-9]\d*$/, what).transform(Number),
};

const natsUrls = z
  .string()
  .refine(
    (s) => s.split(',').every((u) => /^(nats|tls|ws|wss):\/\/\S+$|^[A-Za-z0-9.\-[\]:]+:\d+$/.test(u.trim())),
    'nats://host:port (or a comma-separated list)',
  );

/** Parses `env` against a zod object keyed by variable name; throws a ConfigError listing every bad one. */
export function parseEnv<S extends z.ZodRawShape>(shape: S, env: Env = process.env): z.infer<z.ZodObject<S>> {
  // An empty variable (`FOO=`) counts as unset, as most tools treat it.
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = z.object(shape).safeParse(set);
  if (result.success) return result.data;
  const issues = new Map<string, ConfigIssue>();
  for (const issue of result.error.issues) {
    const variable = String(issue.path[0] ?? '(environment)');
    if (issues.has(variable)) continue;
    const raw = env[variable];
    issues.set(variable, {
      variable,
      expected: issue.message === 'Required' ? 'a value' : issue.message,
      received: raw === '' ? undefined : raw,
    });
  }
  throw new ConfigError([...issues.values()]);
}

export interface ServiceConfigOptions<E extends z.ZodRawShape> {
  /** The service's name: `flops`, `profiler`, ...; variables are prefixed with it upper-cased. */
  service: string;
  defaultPort: number;
  /** The service's own variables (full names), parsed in the same pass so all errors show at once. */
  extra?: E;
}

/**
 * Reads the standard service variables (`<SERVICE>_HOST`, `<SERVICE>_PORT`, `NATS_URL`,
 * `OTEL_SERVICE_NAME`, `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT`) plus the service's
 * `extra` ones. Call it once in main().
 */
export function loadServiceConfig<E extends z.ZodRawShape = Record<never, never>>(
  options: ServiceConfigOptions<E>,
  env: Env = process.env,
): ServiceConfig<z.infer<z.ZodObject<E>>> {
  const prefix = envPrefix(options.service);
  const hostVar = `${prefix}_HOST`;
  const portVar = `${prefix}_PORT`;
  const shape = {
    [hostVar]: envVar.host().optional(),
    [portVar]: envVar.port().optional(),
    NATS_URL: natsUrls.optional(),
    OTEL_SERVICE_NAME: envVar.string().optional(),
    OTEL_TRACES_EXPORTER: envVar.oneOf(TRACES_EXPORTERS).optional(),
    OTEL_EXPORTER_OTLP_ENDPOINT: envVar.url().optional(),
    ...(options.extra ?? {}),
  } as z.ZodRawShape;
  const parsed = parseEnv(shape, env) as Record<string, unknown>;
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(options.extra ?? {})) extra[key] = parsed[key];
  return {
    service: options.service,
    host: (parsed[hostVar] as string | undefined) ?? '127.0.0.1',
    port: (parsed[portVar] as number | undefined) ?? options.defaultPort,
    natsUrl: parsed.NATS_URL as string | undefined,
    telemetry: {
      serviceName: (parsed.OTEL_SERVICE_NAME as string | undefined) ?? options.service,
      tracesExporter: (parsed.OTEL_TRACES_EXPORTER as TracesExporter | undefined) ?? 'none',
      otlpEndpoint: parsed.OTEL_EXPORTER_OTLP_ENDPOINT as string | undefined,
    },
    extra: extra as z.infer<z.ZodObject<E>>,
  };
}

export interface RunMainIo {
  exit(code: number): void;
  error(message: string): void;
}

const processIo: RunMainIo = {
  exit: (code) => process.exit(code),
  error: (message) => console.error(message),
};

/**
 * Runs a service's main(): a ConfigError prints its message and exits with code 2; any other
 * startup failure prints its stack and exits with code 1. Resolves with main()'s value otherwise.
 */
export async function runMain<T>(main: () => T | Promise<T>, io: RunMainIo = processIo): Promise<T | undefined> {
  try {
    return await main();
  } catch (err) {
    if (err instanceof ConfigError) {
      io.error(err.message);
      io.exit(2);
    } else {
      io.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      io.exit(1);
    }
    return undefined;
  }
}
