import { envVar, loadServiceConfig, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { DEFAULT_PORT, SERVICE_NAME, startTrainerServer } from './index.js';

await runMain(async () => {
  const config = loadServiceConfig({
    service: SERVICE_NAME,
    defaultPort: DEFAULT_PORT,
    extra: { TRAINER_DATA_DIR: envVar.string('a directory for checkpoints and results').optional() },
  });
  const telemetry = startTelemetry(config.telemetry);
  const server = await startTrainerServer({
    host: config.host,
    port: config.port,
    dataDir: config.extra.TRAINER_DATA_DIR ?? '.sm-nas/trainer',
  });
  runUntilSignal({ servers: [server], telemetry });
});
