// One process serves one algorithm, chosen by SUGGESTION_ALGORITHM; a search names the algorithm
// and the address of the server running it (SearchSpec.algorithm).
import { envVar, loadServiceConfig, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { ALGORITHMS, DEFAULT_PORTS, SERVICE_NAME, startSuggestionServer } from './index.js';

await runMain(async () => {
  const algorithmVar = { SUGGESTION_ALGORITHM: envVar.oneOf(ALGORITHMS) };
  // The algorithm decides the default port, so read it first (same schema, same error message).
  const probe = loadServiceConfig({ service: SERVICE_NAME, defaultPort: 0, extra: algorithmVar });
  const algorithm = probe.extra.SUGGESTION_ALGORITHM;
  const config = loadServiceConfig({ service: SERVICE_NAME, defaultPort: DEFAULT_PORTS[algorithm], extra: algorithmVar });
  const telemetry = startTelemetry({ ...config.telemetry, serviceName: process.env.OTEL_SERVICE_NAME ?? `${SERVICE_NAME}-${algorithm}` });
  const server = await startSuggestionServer({ algorithm, host: config.host, port: config.port });
  runUntilSignal({ servers: [server], telemetry });
});
