// The gRPC server every service runs: nice-grpc with, in this order, OpenTelemetry (health checks
// excluded), domain-error mapping, and call termination on shutdown; plus grpc.health.v1 with
// per-service status and, given a protoset, server reflection.
import {
  createServer,
  type CompatServiceDefinition,
  type ServerMiddleware,
  type ServiceImplementation,
} from 'nice-grpc';
import { openTelemetryServerMiddleware } from 'nice-grpc-opentelemetry';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import { ServerReflection, ServerReflectionService } from 'nice-grpc-server-reflection';
import { withHealthDescriptor } from './health-descriptor.js';
import { errorMappingMiddleware, type ErrorLogger } from './errors.js';
import { bearerTokenMiddleware, isLoopbackHost, serverCredentials, type SecurityConfig } from './security.js';

export const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

/** Added to every handler's call context; long-lived streams call it to end when shutdown begins. */
export interface TerminatorContext {
  abortOnTerminate(): void;
}

export interface ServiceRegistration {
  definition: CompatServiceDefinition;
  // The pairing is checked by `service()`; the list itself is heterogeneous.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  implementation: ServiceImplementation<any, TerminatorContext>;
}

/** Pairs a definition with its implementation, type-checked: `service(FlopsDefinition, impl)`. */
export function service<D extends CompatServiceDefinition>(
  definition: D,
  implementation: ServiceImplementation<D, TerminatorContext>,
): ServiceRegistration {
  return { definition, implementation };
}

/** `nas.flops.v1.FlopsService` for a ts-proto, generic or grpc-js definition. */
export function serviceFullName(definition: CompatServiceDefinition): string {
  if ('fullName' in definition && typeof definition.fullName === 'string') return definition.fullName;
  const methods = ('methods' in definition && typeof definition.methods === 'object' ? definition.methods : definition) as Record<
    string,
    { path?: unknown }
  >;
  for (const method of Object.values(methods)) {
    const match = typeof method.path === 'string' ? /^\/([^/]+)\//.exec(method.path) : null;
    if (match?.[1]) return match[1];
  }
  throw new Error('service definition has no methods: cannot tell its name');
}

export interface StartServerOptions {
  /** The microservice's name (`flops`), for logs. */
  serviceName: string;
  services: ServiceRegistration[];
  /** A serialized google.protobuf.FileDescriptorSet holding the services; enables server reflection. */
  protoset?: Uint8Array;
  host: string;
  /** 0 binds any free port; the bound one is returned. */
  port: number;
  /** Larger requests fail with RESOURCE_EXHAUSTED; default 4 MiB. */
  maxReceiveMessageBytes?: number;
  /**
   * TLS / mutual TLS, a bearer token, a plaintext health-only port (see security.ts and
   * loadSecurityConfig); all off when not given.
   */
  security?: Partial<SecurityConfig>;
  logger?: ServerLogger;
}

export interface ServerLogger extends ErrorLogger {
  info(message: string): void;
}

export interface ShutdownServerOptions {
  /** How long in-flight calls may take before they are cancelled; default 10 s. */
  graceMs?: number;
}

export interface RunningServer {
  port: number;
  /** `host:port` as bound, ready for createChannel. */
  address: string;
  /** The plaintext health-only port when `security.healthPort` was given. */
  healthPort?: number;
  health: HealthState;
  /** Full names of the services added (the health/reflection ones excluded). */
  serviceNames: readonly string[];
  /**
   * Sets every health status to NOT_SERVING, ends health Watch streams, stops accepting calls and
   * waits for in-flight ones up to the grace period, then cancels what is left. Idempotent.
   */
  shutdown(options?: ShutdownServerOptions): Promise<void>;
  forceShutdown(): void;
}

const HEALTH_PATH_PREFIX = `/${HEALTH_SERVICE_NAME}/`;

/** nice-grpc-opentelemetry's server middleware, minus spans for health checks. */
export function tracingMiddleware(): ServerMiddleware {
  const otel = openTelemetryServerMiddleware();
  return async function* tracing(call, context) {
    if (call.method.path.startsWith(HEALTH_PATH_PREFIX)) return yield* call.next(call.request, context);
    return yield* otel(call, context);
  };
}

interface Terminator {
  middleware: ServerMiddleware<TerminatorContext>;
  terminate(): void;
}

// The contract of nice-grpc-server-middleware-terminator, which is not a dependency here: a
// handler calling `abortOnTerminate()` gets its signal aborted when shutdown begins.
function createTerminator(): Terminator {
  const armed = new Set<AbortController>();
  let terminated = false;
  return {
    terminate() {
      terminated = true;
      for (const controller of armed) controller.abort();
      armed.clear();
    },
    middleware: async function* terminator(call, context) {
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      if (context.signal.aborted) controller.abort();
      else context.signal.addEventListener('abort', onAbort);
      try {
        return yield* call.next(call.request, {
          ...context,
          signal: controller.signal,
          abortOnTerminate() {
            if (terminated) controller.abort();
            else armed.add(controller);
          },
        });
      } finally {
        armed.delete(controller);
        context.signal.removeEventListener('abort', onAbort);
      }
    },
  };
}

function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Starts a gRPC server with health, reflection, tracing and error mapping; see the module comment. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? console;
  const security = options.security ?? {};
  const terminator = createTerminator();
  const maxReceive = options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_BYTES;
  const base = createServer({ 'grpc.max_receive_message_length': maxReceive }).use(tracingMiddleware());
  // The token check runs before error mapping so that a refused call never reaches a handler.
  const server = (security.bearerToken ? base.use(bearerTokenMiddleware(security.bearerToken)) : base)
    .use(errorMappingMiddleware(logger))
    .use(terminator.middleware);

  const serviceNames = options.services.map((s) => serviceFullName(s.definition));
  const health = HealthState();
  // Not serving until listen() has succeeded.
  health.setStatus('unhealthy');
  for (const { definition, implementation } of options.services) server.add(definition, implementation);
  server.add(HealthDefinition, HealthServiceImpl(health));
  if (options.protoset) {
    server.add(ServerReflectionService, ServerReflection(withHealthDescriptor(options.protoset), [...serviceNames, HEALTH_SERVICE_NAME]));
  }

  if (!security.tls && !isLoopbackHost(options.host)) {
    logger.info(
      `${options.serviceName}: serving plaintext gRPC on ${options.host}, reachable from other hosts: ` +
        'set GRPC_TLS_CERT_FILE/GRPC_TLS_KEY_FILE (and GRPC_TLS_CA_FILE for mutual TLS) unless the network is trusted',
    );
  }
  const port = await server.listen(hostPort(options.host, options.port), serverCredentials(security.tls));
  // kubelet's gRPC probes speak plaintext only: with TLS on, they use this health-only listener.
  let healthServer: ReturnType<typeof createServer> | undefined;
  let healthPort: number | undefined;
  if (security.healthPort !== undefined) {
    healthServer = createServer({ 'grpc.max_receive_message_length': 4096 });
    healthServer.add(HealthDefinition, HealthServiceImpl(health));
    healthPort = await healthServer.listen(hostPort(options.host, security.healthPort));
  }
  health.setStatus('healthy');
  for (const name of serviceNames) health.setStatus('healthy', name);
  const address = hostPort(options.host, port);
  const mode = [security.tls ? (security.tls.requireClientCert ? 'mutual TLS' : 'TLS') : 'plaintext', security.bearerToken ? 'bearer token' : '']
    .filter(Boolean)
    .join(', ');
  logger.info(
    `${options.serviceName}: gRPC listening on ${address}, ${mode} (${serviceNames.join(', ')})` +
      (healthPort !== undefined ? `; health on ${hostPort(options.host, healthPort)}` : ''),
  );

  let stopping: Promise<void> | undefined;
  return {
    port,
    address,
    ...(healthPort !== undefined ? { healthPort } : {}),
    health,
    serviceNames,
    forceShutdown: () => {
      server.forceShutdown();
      healthServer?.forceShutdown();
    },
    shutdown({ graceMs = DEFAULT_SHUTDOWN_GRACE_MS } = {}) {
      stopping ??= (async () => {
        health.setStatus('unhealthy');
        for (const name of serviceNames) health.setStatus('unhealthy', name);
        terminator.terminate();
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          server.shutdown().then(() => true),
          new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
        ]);
        clearTimeout(timer);
        if (!finished) {
          logger.info(`${options.serviceName}: calls still running after ${graceMs} ms, cancelling them`);
          server.forceShutdown();
        }
        // Last, so probes see NOT_SERVING while the main server drains.
        healthServer?.forceShutdown();
      })();
      return stopping;
    },
  };
}
