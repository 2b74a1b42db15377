// The profiler's configuration, parsed whole in main.ts before anything listens: the variables every
// service reads, NATS (optional: with it the profiler serves its class's subject), the tfjs
// backend's variables (checked here, so a bad one stops the process instead of failing its first
// measurement), the device lock the local mesh shares with a trainer, and its own:
//   PROFILER_CPUS         CPU list to pin to (taskset syntax, e.g. `2-3`); default: as launched
//   PROFILER_GPU          GPU index for CUDA_VISIBLE_DEVICES (tfjs-node-gpu); default: as launched
//   PROFILER_DEVICE_LABEL appended to the class id, for devices the description cannot tell apart
import { configSchema, deviceLockPiece, envVar, natsPiece, parseConfig, servicePieces, tfjsBackendPiece, variablesPiece, type ConfigOf, type Env } from '@sm-nas/service-kit';
import { TFJS_BACKEND_VARIABLES } from '@sm-nas/tfjs-runtime/choice';
import { SERVICE_NAME } from './index.js';

const pieces = {
  ...servicePieces(SERVICE_NAME),
  nats: natsPiece(),
  backend: tfjsBackendPiece(TFJS_BACKEND_VARIABLES),
  deviceLock: deviceLockPiece(),
  own: variablesPiece({
    PROFILER_CPUS: envVar.string('a CPU list such as 0-3,6').regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, 'a CPU list such as 0-3,6').optional(),
    PROFILER_GPU: envVar.string('a GPU index').regex(/^\d+$/, 'a GPU index such as 0').optional(),
    PROFILER_DEVICE_LABEL: envVar.string().regex(/^[A-Za-z0-9-]+$/, 'letters, digits and dashes').optional(),
  }),
};
export const profilerConfigSchema = configSchema(pieces);
export type ProfilerConfig = ConfigOf<typeof pieces>;

/** Throws one ConfigError naming every bad variable. */
export function loadProfilerConfig(env: Env = process.env): ProfilerConfig {
  return parseConfig(profilerConfigSchema, env);
}
