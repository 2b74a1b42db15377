// The profiler process: pins itself to its device, detects its hardware class, serves gRPC and its
// class's NATS subject until SIGTERM. Its variables are listed in config.ts.
import { DeviceLock, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { pinToCpus } from './affinity.js';
import { loadProfilerConfig } from './config.js';
import { startProfiler } from './index.js';

await runMain(async () => {
  // Every variable, the tfjs backend's included, checked before anything starts (config.ts).
  const config = loadProfilerConfig();
  const { own } = config;
  // Before the backend starts its threads, so they inherit the pinning.
  if (own.PROFILER_CPUS) pinToCpus(own.PROFILER_CPUS);
  const telemetry = startTelemetry(config.telemetry);
  const running = await startProfiler({
    ...config.listen,
    ...(config.nats.url ? { natsUrl: config.nats.url } : {}),
    ...(config.nats.security ? { natsSecurity: config.nats.security } : {}),
    security: config.security,
    maxReceiveMessageBytes: config.limits.maxMessageBytes,
    ...(own.PROFILER_DEVICE_LABEL ? { label: own.PROFILER_DEVICE_LABEL } : {}),
    // PROFILER_GPU reaches CUDA through the backend, which hands it over as tfjs-node-gpu loads.
    backend: { ...config.backend, ...(own.PROFILER_GPU !== undefined ? { cudaVisibleDevices: own.PROFILER_GPU } : {}) },
    device: config.deviceLock ? new DeviceLock(config.deviceLock) : undefined,
  });
  console.info(`profiler: hardware class ${running.profiler.hardware.hardwareClass} on ${running.server.address}`);
  const lifecycle = runUntilSignal({ telemetry });
  lifecycle.onShutdown('profiler', () => running.stop());
});
