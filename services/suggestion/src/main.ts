// One process serves one algorithm when SUGGESTION_ALGORITHM names it (a search then names the
// algorithm by this server's address), or every algorithm when it is unset (the local mesh's
// default suggestion service, which runs the algorithm each request's spec names).
import { runMain, runUntilSignal, startTelemetry } from '@sm-nas/service-kit';
import { loadSuggestionConfig } from './config.js';
import { startSuggestionServer } from './index.js';

await runMain(async () => {
  // Every variable checked before anything starts (config.ts).
  const config = loadSuggestionConfig();
  const algorithm = config.own.SUGGESTION_ALGORITHM;
  const telemetry = startTelemetry(config.telemetry);
  const server = await startSuggestionServer({
    ...(algorithm ? { algorithm } : {}),
    ...config.listen,
    security: config.security,
    maxReceiveMessageBytes: config.limits.maxMessageBytes,
  });
  runUntilSignal({ servers: [server], telemetry });
});
