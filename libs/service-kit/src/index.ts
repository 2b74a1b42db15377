export * from './attributes.js';
export {
  ConfigError,
  TRACES_EXPORTERS,
  envPrefix,
  envVar,
  loadServiceConfig,
  parseEnv,
  runMain,
  type ConfigIssue,
  type Env,
  type RunMainIo,
  type ServiceConfig,
  type ServiceConfigOptions,
  type TelemetryConfig,
  type TracesExporter,
} from './config.js';
export {
  DOMAIN_STATUS_CODES,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  domainStatusOf,
  errorMappingMiddleware,
  isAbortError,
  toServerError,
  type DomainStatusCode,
  type ErrorLogger,
} from './errors.js';
export {
  DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
  DEFAULT_SHUTDOWN_GRACE_MS,
  HEALTH_SERVICE_NAME,
  service,
  serviceFullName,
  startServer,
  tracingMiddleware,
  type RunningServer,
  type ServerLogger,
  type ServiceRegistration,
  type ShutdownServerOptions,
  type StartServerOptions,
  type TerminatorContext,
} from './server.js';
export {
  createLifecycle,
  runUntilSignal,
  type Closer,
  type Lifecycle,
  type LifecycleOptions,
  type RunUntilSignalOptions,
} from './shutdown.js';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.js';
