import { runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { loadFlopsConfig } from './config.js';
import { startFlopsServer } from './index.js';

await runMain(async () => {
  // Every variable (listen address, OTEL_*, TLS, limits) checked before anything starts (config.ts).
  const config = loadFlopsConfig();
  const telemetry = startTelemetry(config.telemetry);
  const server = await startFlopsServer({
    ...config.listen,
    security: config.security,
    maxReceiveMessageBytes: config.limits.maxMessageBytes,
  });
  runUntilSignal({ servers: [server], telemetry });
});
