// The controller's configuration, parsed whole in main.ts before anything listens: the variables
// every service reads, NATS (required: the journal and the pipeline live on JetStream), the
// addresses of the services it calls, and its own knobs.
import { configSchema, envVar, natsPiece, parseConfig, servicePieces, variablesPiece, type ConfigOf, type Env } from '@sm-nas/service-kit';
import { SERVICE_NAME } from './index.js';

const pieces = {
  ...servicePieces(SERVICE_NAME),
  nats: natsPiece({ requiredFor: 'the journal and the pipeline live on JetStream' }),
  own: variablesPiece({
    SEARCHSPACE_ADDR: envVar.string('host:port of the searchspace service'),
    FLOPS_ADDR: envVar.string('host:port of the flops service'),
    SUGGESTION_ADDR: envVar.string('host:port of the default suggestion service').optional(),
    SM_NAS_PROFILER_WAIT_SECONDS: envVar.positiveInt('seconds a search waits for a profiler of its class to exist').optional(),
    SM_NAS_RESULTS_DIR: envVar.string("directory for each ended search's results folder").optional(),
  }),
};
export const controllerConfigSchema = configSchema(pieces);
export type ControllerConfig = ConfigOf<typeof pieces>;

/** Throws one ConfigError naming every bad variable. */
export function loadControllerConfig(env: Env = process.env): ControllerConfig {
  return parseConfig(controllerConfigSchema, env);
}
