import { BACKEND_ENV, parseBackendChoice, type BackendChoice } from '@sm-nas/tfjs-runtime/choice';
import { UsageError } from './usage-error.js';

/**
 * `--backend` of `train` and `profile`: the tfjs backend of the service the command starts in
 * process, which the command hands to it; undefined without the flag (the backend's variables
 * decide). A service at --addr or behind NATS chose its own (SM_NAS_TFJS_BACKEND where it runs), so
 * asking for one there is a mistake, not a no-op.
 */
export function selectBackend(values: { backend?: string | undefined; addr?: string | undefined; nats?: string | undefined }): BackendChoice | undefined {
  if (values.backend === undefined) return undefined;
  if (values.addr || values.nats) throw new UsageError(`--backend: the service at --addr or --nats chose its own backend (${BACKEND_ENV} where it runs)`);
  try {
    return parseBackendChoice(values.backend);
  } catch (error) {
    throw new UsageError(`--backend: ${(error as Error).message}`);
  }
}
