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

/** `env` without its empty variables: `FOO=` counts as unset, as most tools treat it. */
function setVariables(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}

/** One ConfigIssue per variable (its first complaint), from a failed parse of `env`. */
function configErrorFrom(error: z.ZodError, env: Env): ConfigError {
  const issues = new Map<string, ConfigIssue>();
  for (const issue of error.issues) {
    const variable = String(issue.path[0] ?? '(environment)');
    if (issues.has(variable)) continue;
    const raw = env[variable];
    // A piece that checks a secret says what it may show of the value (never the secret itself).
    const params = issue.code === z.ZodIssueCode.custom ? (issue.params as { received?: string } | undefined) : undefined;
    issues.set(variable, {
      variable,
      expected: issue.message === 'Required' ? 'a value' : issue.message,
      received: params && 'received' in params ? params.received : raw === '' ? undefined : raw,
    });
  }
  return new ConfigError([...issues.values()]);
}

/** Parses `env` against a zod object keyed by variable name; throws a ConfigError listing every bad one. */
export function parseEnv<S extends z.ZodRawShape>(shape: S, env: Env = process.env): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(setVariables(env));
  if (result.success) return result.data;
  throw configErrorFrom(result.error, env);
}

/**
 * One part of a service's configuration (its listen address, TLS, a tfjs backend...): a schema
 * over the whole environment whose issues are keyed by variable name. A service's schema is a
 * `configSchema` of pieces parsed once by `parseConfig`, so every bad variable of every piece shows
 * in the same error.
 */
export type ConfigPiece<T> = z.ZodType<T, z.ZodTypeDef, unknown>;

const anyEnv = z.custom<Env>((v) => typeof v === 'object' && v !== null, 'an environment');

/** A piece from a zod shape keyed by variable name, mapped to the value the service uses. */
export function envPiece<S extends z.ZodRawShape, T = z.output<z.ZodObject<S>>>(
  shape: S,
  map?: (parsed: z.output<z.ZodObject<S>>) => T,
): ConfigPiece<T> {
  const object = z.object(shape);
  return (map ? object.transform(map) : object) as unknown as ConfigPiece<T>;
}

/**
 * A piece from a loader that throws a ConfigError (the checks that read files or relate several
 * variables, as TLS and the NATS credentials do): its issues join the other pieces' instead of
 * hiding them.
 */
export function loaderPiece<T>(load: (env: Env) => T): ConfigPiece<T> {
  return anyEnv.transform((env, ctx) => {
    try {
      return load(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const issue of err.issues) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [issue.variable], message: issue.expected, params: { received: issue.received } });
      }
      return z.NEVER;
    }
  });
}

export type ConfigOf<P extends Record<string, ConfigPiece<unknown>>> = { [K in keyof P]: z.output<P[K]> };

/** The pieces as one schema: each parses the same environment, and all their issues are kept. */
export function configSchema<P extends Record<string, ConfigPiece<unknown>>>(pieces: P): ConfigPiece<ConfigOf<P>> {
  return anyEnv.transform((env, ctx) => {
    const config: Record<string, unknown> = {};
    for (const [key, piece] of Object.entries(pieces)) {
      const result = piece.safeParse(env);
      if (result.success) config[key] = result.data;
      else for (const issue of result.error.issues) ctx.addIssue(issue as z.IssueData);
    }
    return config as ConfigOf<P>;
  });
}

/** Parses a service's schema once; throws one ConfigError naming every bad variable and what it expected. */
export function parseConfig<T>(schema: ConfigPiece<T>, env: Env = process.env): T {
  const result = schema.safeParse(setVariables(env));
  if (result.success) return result.data;
  throw configErrorFrom(result.error, env);
}

export interface ListenConfig {
  /** `<SERVICE>_HOST`, default 127.0.0.1 (loopback unless a deployment says otherwise). */
  host: string;
  /** `<SERVICE>_PORT`, default the service's entry in DEFAULT_PORTS; 0 picks any free port. */
  port: number;
}

/** `<SERVICE>_HOST` and `<SERVICE>_PORT`. */
export function listenPiece(service: string, defaultPort: number): ConfigPiece<ListenConfig> {
  const hostVar = `${envPrefix(service)}_HOST`;
  const portVar = `${envPrefix(service)}_PORT`;
  return envPiece({ [hostVar]: envVar.host().optional(), [portVar]: envVar.port().optional() }, (v) => ({
    host: (v[hostVar] as string | undefined) ?? '127.0.0.1',
    port: (v[portVar] as number | undefined) ?? defaultPort,
  }));
}

/** `OTEL_SERVICE_NAME` (default: the service's name), `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT`. */
export function telemetryPiece(service: string): ConfigPiece<TelemetryConfig> {
  return envPiece(
    {
      OTEL_SERVICE_NAME: envVar.string().optional(),
      OTEL_TRACES_EXPORTER: envVar.oneOf(TRACES_EXPORTERS).optional(),
      OTEL_EXPORTER_OTLP_ENDPOINT: envVar.url().optional(),
    },
    (v) => ({
      serviceName: v.OTEL_SERVICE_NAME ?? service,
      tracesExporter: v.OTEL_TRACES_EXPORTER ?? 'none',
      otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
    }),
  );
}

/**
 * `NATS_URL`: optional for a service that also runs without a bus; `requiredFor` says why a service
 * cannot (it becomes the message of a missing one).
 */
export function natsUrlPiece(options: { requiredFor: string }): ConfigPiece<string>;
export function natsUrlPiece(options?: { requiredFor?: undefined }): ConfigPiece<string | undefined>;
export function natsUrlPiece(options: { requiredFor?: string | undefined } = {}): ConfigPiece<string | undefined> {
  const url = options.requiredFor
    ? z.string({ required_error: `nats://host:port (${options.requiredFor})` }).pipe(natsUrls)
    : natsUrls.optional();
  return envPiece({ NATS_URL: url }, (v) => v.NATS_URL);
}

/** One variable per entry, each a zod schema: the service's own variables, under their own names. */
export function variablesPiece<S extends z.ZodRawShape>(shape: S): ConfigPiece<z.output<z.ZodObject<S>>> {
  return envPiece(shape);
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
 * `extra` ones, from the same pieces a service's own schema is made of.
 */
export function loadServiceConfig<E extends z.ZodRawShape = Record<never, never>>(
  options: ServiceConfigOptions<E>,
  env: Env = process.env,
): ServiceConfig<z.infer<z.ZodObject<E>>> {
  const config = parseConfig(
    configSchema({
      listen: listenPiece(options.service, options.defaultPort),
      natsUrl: natsUrlPiece(),
      telemetry: telemetryPiece(options.service),
      extra: variablesPiece((options.extra ?? {}) as E),
    }),
    env,
  );
  return { service: options.service, ...config.listen, natsUrl: config.natsUrl, telemetry: config.telemetry, extra: config.extra };
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
