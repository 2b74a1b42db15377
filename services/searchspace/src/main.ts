import { loadLimits, loadSecurityConfig, loadServiceConfig, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { DEFAULT_PORT, SERVICE_NAME, startSearchSpaceServer } from './index.js';

await runMain(async () => {
  const config = loadServiceConfig({ service: SERVICE_NAME, defaultPort: DEFAULT_PORT });
  // TLS, bearer token, health port and limits: all opt-in, see libs/service-kit security.ts, limits.ts.
  const security = loadSecurityConfig(SERVICE_NAME);
  const limits = loadLimits();
  const telemetry = startTelemetry(config.telemetry);
  const server = await startSearchSpaceServer({ host: config.host, port: config.port, security, maxReceiveMessageBytes: limits.maxMessageBytes });
  runUntilSignal({ servers: [server], telemetry });
});
