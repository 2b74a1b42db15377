// The searchspace service's configuration, parsed whole in main.ts before anything listens: the variables
// every service reads (listen address, OTEL_*, TLS, limits) and none of its own.
import { configSchema, parseConfig, servicePieces, type ConfigOf, type Env } from '@sm-nas/service-kit';
import { SERVICE_NAME } from './index.js';

const pieces = servicePieces(SERVICE_NAME);
export const searchSpaceConfigSchema = configSchema(pieces);
export type SearchSpaceConfig = ConfigOf<typeof pieces>;

/** Throws one ConfigError naming every bad variable. */
export function loadSearchSpaceConfig(env: Env = process.env): SearchSpaceConfig {
  return parseConfig(searchSpaceConfigSchema, env);
}
