import { runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { loadSearchSpaceConfig } from './config.js';
import { startSearchSpaceServer } from './index.js';

await runMain(async () => {
  // Every variable (listen address, OTEL_*, TLS, limits) checked before anything starts (config.ts).
  const config = loadSearchSpaceConfig();
  const telemetry = startTelemetry(config.telemetry);
  const server = await startSearchSpaceServer({
    ...config.listen,
    security: config.security,
    maxReceiveMessageBytes: config.limits.maxMessageBytes,
  });
  runUntilSignal({ servers: [server], telemetry });
});
