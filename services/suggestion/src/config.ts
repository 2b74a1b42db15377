// The suggestion service's configuration, parsed whole in main.ts before anything listens: the
// variables every service reads, and SUGGESTION_ALGORITHM (see main.ts).
import { configSchema, envVar, parseConfig, servicePieces, variablesPiece, type ConfigOf, type Env } from '@sm-nas/service-kit';
import { ALGORITHMS, SERVICE_NAME } from './index.js';

const pieces = {
  ...servicePieces(SERVICE_NAME),
  own: variablesPiece({ SUGGESTION_ALGORITHM: envVar.oneOf(ALGORITHMS).optional() }),
};
export const suggestionConfigSchema = configSchema(pieces);
export type SuggestionConfig = ConfigOf<typeof pieces>;

/** Throws one ConfigError naming every bad variable. */
export function loadSuggestionConfig(env: Env = process.env): SuggestionConfig {
  return parseConfig(suggestionConfigSchema, env);
}
