// The profiler process: pins itself to its device, detects its hardware class, serves gRPC and its
// class's NATS subject until SIGTERM.
//   PROFILER_CPUS         CPU list to pin to (taskset syntax, e.g. `2-3`); default: as launched
//   PROFILER_GPU          GPU index for CUDA_VISIBLE_DEVICES (tfjs-node-gpu); default: as launched
//   PROFILER_DEVICE_LABEL appended to the class id, for devices the description cannot tell apart
import {
  envVar,
  loadLimits,
  loadNatsSecurity,
  loadSecurityConfig,
  loadServiceConfig,
  runMain,
  runUntilSignal,
  startTelemetry,
} from '@sm-nas/service-kit';
import { pinToCpus } from './affinity.js';
import { DEFAULT_PORT, SERVICE_NAME, startProfiler } from './index.js';

await runMain(async () => {
  const config = loadServiceConfig({
    service: SERVICE_NAME,
    defaultPort: DEFAULT_PORT,
    extra: {
      PROFILER_CPUS: envVar.string('a CPU list such as 0-3,6').regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, 'a CPU list such as 0-3,6').optional(),
      PROFILER_GPU: envVar.string('a GPU index').regex(/^\d+$/, 'a GPU index such as 0').optional(),
      PROFILER_DEVICE_LABEL: envVar.string().regex(/^[A-Za-z0-9-]+$/, 'letters, digits and dashes').optional(),
    },
  });
  // TLS, bearer token, health port, NATS credentials and limits: all opt-in (libs/service-kit).
  const security = loadSecurityConfig(SERVICE_NAME);
  const natsSecurity = loadNatsSecurity();
  const limits = loadLimits();
  // Before the backend starts its threads, so they inherit the pinning.
  if (config.extra.PROFILER_GPU !== undefined) process.env.CUDA_VISIBLE_DEVICES = config.extra.PROFILER_GPU;
  if (config.extra.PROFILER_CPUS) pinToCpus(config.extra.PROFILER_CPUS);
  const telemetry = startTelemetry(config.telemetry);
  const running = await startProfiler({
    host: config.host,
    port: config.port,
    ...(config.natsUrl ? { natsUrl: config.natsUrl } : {}),
    ...(natsSecurity ? { natsSecurity } : {}),
    security,
    maxReceiveMessageBytes: limits.maxMessageBytes,
    ...(config.extra.PROFILER_DEVICE_LABEL ? { label: config.extra.PROFILER_DEVICE_LABEL } : {}),
  });
  console.info(`profiler: hardware class ${running.profiler.hardware.hardwareClass} on ${running.server.address}`);
  const lifecycle = runUntilSignal({ telemetry });
  lifecycle.onShutdown('profiler', () => running.stop());
});
