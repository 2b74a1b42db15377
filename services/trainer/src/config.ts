// The trainer's configuration, parsed whole in main.ts before anything listens: the variables every
// service reads, NATS (optional: with it the trainer also takes queued jobs), the tfjs backend's
// variables (checked here, so a bad one stops the process instead of failing its first job), the
// device lock the local mesh shares with a profiler, and its own knobs.
import { configSchema, deviceLockPiece, envVar, natsPiece, parseConfig, servicePieces, tfjsBackendPiece, variablesPiece, type ConfigOf, type Env } from '@sm-nas/service-kit';
import { TFJS_BACKEND_VARIABLES } from '@sm-nas/tfjs-runtime/choice';
import { SERVICE_NAME } from './index.js';

const pieces = {
  ...servicePieces(SERVICE_NAME),
  nats: natsPiece(),
  backend: tfjsBackendPiece(TFJS_BACKEND_VARIABLES),
  deviceLock: deviceLockPiece(),
  own: variablesPiece({
    TRAINER_DATA_DIR: envVar.string('a directory for checkpoints and results').optional(),
    TRAINER_JOB_ACK_WAIT_SECONDS: envVar.positiveInt('seconds a queued job may go without progress before another trainer gets it').optional(),
  }),
};
export const trainerConfigSchema = configSchema(pieces);
export type TrainerConfig = ConfigOf<typeof pieces>;

/** Throws one ConfigError naming every bad variable. */
export function loadTrainerConfig(env: Env = process.env): TrainerConfig {
  return parseConfig(trainerConfigSchema, env);
}
