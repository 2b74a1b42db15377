import { connectBus, type Bus, type BusSecurity, type Subscription } from '@sm-nas/bus';
import { profiler } from '@sm-nas/proto';
import { protoset } from '@sm-nas/proto/protoset';
import { DEFAULT_PORTS, DeviceLock, service, startServer, type RunningServer, type ServerLogger, type StartServerOptions } from '@sm-nas/service-kit';
import { initBackend, type InitBackendOptions } from '@sm-nas/tfjs-runtime';
import { KvLatencyCache, MemoryLatencyCache, ResilientLatencyCache, type LatencyCache } from './cache.js';
import { describeHardware, readHardwareSources, type HardwareDescription } from './hardware.js';
import type { MeasureSettings } from './measure.js';
import { Profiler } from './profiler.js';
import { profilerService, publishMeasurements, serveProfileRequests } from './server.js';

export * from './cache.js';
export * from './hardware.js';
export * from './measure.js';
export * from './model.js';
export * from './predictor.js';
export * from './profiler.js';
export * from './server.js';
export * from './settings.js';
export * from './stats.js';

export const SERVICE_NAME = 'profiler';
export const DEFAULT_PORT = DEFAULT_PORTS.profiler;

/**
 * Starts the tfjs backend (once per process) and describes this machine's hardware class.
 * `backend`: its settings from the profiler's configuration; without them it reads its variables.
 */
export async function detectHardware(label?: string, backend?: InitBackendOptions): Promise<HardwareDescription> {
  const info = await initBackend(backend);
  return describeHardware(readHardwareSources(info, label));
}

export interface StartProfilerOptions {
  host: string;
  port: number;
  logger?: ServerLogger;
  /** Default: this machine, as detectHardware(label, backend) sees it. */
  hardware?: HardwareDescription;
  /** The tfjs backend's settings (the profiler's parsed configuration); default: its variables. */
  backend?: InitBackendOptions;
  /** Appended to the detected class id (see HardwareSources.label). */
  label?: string;
  /** With NATS: the KV cache, the class's request subject, measurement events. Without: an in-memory cache. */
  natsUrl?: string;
  /** NATS credentials and TLS (libs/service-kit loadNatsSecurity). */
  natsSecurity?: BusSecurity;
  /** gRPC TLS, bearer token, health port (libs/service-kit loadSecurityConfig). */
  security?: StartServerOptions['security'];
  maxReceiveMessageBytes?: number;
  measure?: Partial<MeasureSettings>;
  /**
   * A device shared with a trainer; undefined: none. Left out: $SM_NAS_DEVICE_LOCK (which the local
   * mesh sets), for callers without a parsed configuration.
   */
  device?: DeviceLock | undefined;
}

export interface RunningProfiler {
  server: RunningServer;
  profiler: Profiler;
  bus: Bus | undefined;
  /** Stops the NATS responder (finishing the request in hand), the gRPC server, then the connection. */
  stop(options?: { graceMs?: number }): Promise<void>;
}

export async function startProfiler(options: StartProfilerOptions): Promise<RunningProfiler> {
  const hardware = options.hardware ?? (await detectHardware(options.label, options.backend));
  const bus = options.natsUrl
    ? await connectBus({
        servers: options.natsUrl,
        name: `profiler-${hardware.hardwareClass}`,
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.natsSecurity ? { security: options.natsSecurity } : {}),
      })
    : undefined;
  let subscription: Subscription | undefined;
  try {
    const logger = options.logger ?? console;
    const cache: LatencyCache = bus
      ? new ResilientLatencyCache(await KvLatencyCache.open(bus), (operation, err) =>
          logger.error(`latency cache ${operation} failed, measurements kept in memory until NATS answers: ${err instanceof Error ? err.message : String(err)}`),
        )
      : new MemoryLatencyCache();
    const device = 'device' in options ? options.device : DeviceLock.fromEnv();
    const p = new Profiler({
      hardware,
      cache,
      ...(options.measure ? { measure: options.measure } : {}),
      ...(bus ? { onMeasured: publishMeasurements(bus) } : {}),
      ...(device ? { device } : {}),
    });
    const server = await startServer({
      serviceName: SERVICE_NAME,
      services: [service(profiler.ProfilerServiceDefinition, profilerService(p))],
      protoset,
      host: options.host,
      port: options.port,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.security ? { security: options.security } : {}),
      ...(options.maxReceiveMessageBytes ? { maxReceiveMessageBytes: options.maxReceiveMessageBytes } : {}),
    });
    subscription = bus ? serveProfileRequests(bus, p) : undefined;
    if (bus) await bus.flush();
    return {
      server,
      profiler: p,
      bus,
      async stop(stopOptions = {}) {
        await subscription?.drain();
        await server.shutdown(stopOptions);
        await bus?.drain();
      },
    };
  } catch (err) {
    await bus?.close();
    throw err;
  }
}
