// One process serves one algorithm when SUGGESTION_ALGORITHM names it (a search then names the
// algorithm by this server's address), or every algorithm when it is unset (the local mesh's
// default suggestion service, which runs the algorithm each request's spec names).
import { envVar, loadLimits, loadSecurityConfig, loadServiceConfig, runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { ALGORITHMS, DEFAULT_PORT, SERVICE_NAME, startSuggestionServer } from './index.js';

await runMain(async () => {
  const config = loadServiceConfig({
    service: SERVICE_NAME,
    defaultPort: DEFAULT_PORT,
    extra: { SUGGESTION_ALGORITHM: envVar.oneOf(ALGORITHMS).optional() },
  });
  const algorithm = config.extra.SUGGESTION_ALGORITHM;
  // TLS, bearer token, health port and limits: all opt-in, see libs/service-kit security.ts, limits.ts.
  const security = loadSecurityConfig(SERVICE_NAME);
  const limits = loadLimits();
  const telemetry = startTelemetry(config.telemetry);
  const server = await startSuggestionServer({
    ...(algorithm ? { algorithm } : {}),
    host: config.host,
    port: config.port,
    security,
    maxReceiveMessageBytes: limits.maxMessageBytes,
  });
  runUntilSignal({ servers: [server], telemetry });
});
