import { loadServiceConfig, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { DEFAULT_PORT, SERVICE_NAME, startSearchSpaceServer } from './index.js';

await runMain(async () => {
  const config = loadServiceConfig({ service: SERVICE_NAME, defaultPort: DEFAULT_PORT });
  const telemetry = startTelemetry(config.telemetry);
  const server = await startSearchSpaceServer({ host: config.host, port: config.port });
  runUntilSignal({ servers: [server], telemetry });
});
