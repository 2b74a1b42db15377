// The `sm-nas` command.
import { parseArgs } from 'node:util';
import { ClientError, Status } from 'nice-grpc';
import { BACKEND_ENV, parseBackendChoice } from '@sm-nas/tfjs-runtime/choice';
import { readSeedArg, UsageError } from './arch-arg.js';
import { FLOPS_USAGE, flopsCommand } from './commands/flops.js';
import { SPACE_USAGE, spaceCommand } from './commands/space.js';
import { PROFILE_USAGE, profileCommand } from './commands/profile.js';
import { TRAIN_USAGE, trainCommand } from './commands/train.js';
import { SEARCH_USAGE } from './commands/search.js';

const USAGE = `usage:
${SPACE_USAGE}

${FLOPS_USAGE}

${TRAIN_USAGE}

${PROFILE_USAGE}

${SEARCH_USAGE}

sm-nas up [--data-dir DIR]      start nats-server (JetStream) and the implemented services locally
sm-nas demo [--count N] [--seed N] [--data-dir DIR]
                                the local mesh end to end: sample candidates, analyse their FLOPs`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stage: { type: 'string' },
      count: { type: 'string' },
      seed: { type: 'string' },
      base: { type: 'string' },
      addr: { type: 'string' },
      input: { type: 'string' },
      form: { type: 'string' },
      classes: { type: 'string' },
      proposals: { type: 'string' },
      'data-dir': { type: 'string' },
      steps: { type: 'string' },
      seconds: { type: 'string' },
      'input-scale': { type: 'string' },
      width: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      schedule: { type: 'string' },
      images: { type: 'string' },
      pretrained: { type: 'string' },
      iterations: { type: 'string' },
      cv: { type: 'string' },
      fresh: { type: 'boolean' },
      class: { type: 'string' },
      predict: { type: 'boolean' },
      json: { type: 'boolean' },
      structural: { type: 'string' },
      modular: { type: 'string' },
      minutes: { type: 'string' },
      parallelism: { type: 'string' },
      algorithm: { type: 'string' },
      out: { type: 'string' },
      nats: { type: 'string' },
      backend: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  const dataDir = values['data-dir'] ?? '.sm-nas';
  if (values.backend !== undefined) selectBackend(command, values);
  switch (command) {
    case 'space':
      console.log(await spaceCommand(rest[0], rest.slice(1), values));
      return 0;
    case 'flops':
      console.log(await flopsCommand(rest[0], values));
      return 0;
    case 'train': {
      console.log(await trainCommand(rest[0], values, (line) => console.error(line)));
      return 0;
    }
    case 'search': {
      const { searchCommand } = await import('./commands/search.js');
      console.log(await searchCommand({ ...values, dataDir }, (line) => console.error(line)));
      return 0;
    }
    case 'profile':
      console.log(await profileCommand(rest[0], values));
      return 0;
    case 'demo': {
      // The mesh modules load only for the commands that start one.
      const { demoCommand } = await import('./commands/demo.js');
      console.log(
        await demoCommand({
          dataDir,
          count: values.count ? Number(values.count) : 12,
          seed: readSeedArg(values.seed, '--seed', 1n),
        }),
      );
      return 0;
    }
    case 'up': {
      const { startLocalMesh } = await import('./mesh.js');
      const mesh = await startLocalMesh({ dataDir });
      console.log(`nats ${mesh.natsUrl}`);
      for (const [service, address] of Object.entries(mesh.addresses)) console.log(`${service} ${address}`);
      console.log('press Ctrl-C to stop');
      await new Promise<void>((resolve) => {
        const stop = () => void mesh.stop().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
}

/**
 * `--backend` for `train` and `profile`: the tfjs backend of the service this command starts in
 * process (a service at --addr or behind NATS chose its own through SM_NAS_TFJS_BACKEND).
 */
function selectBackend(command: string, values: { backend?: string; addr?: string; nats?: string }): void {
  if (command !== 'train' && command !== 'profile') throw new UsageError(`--backend: only train and profile take it (the services of a mesh read ${BACKEND_ENV})`);
  if (values.addr || values.nats) throw new UsageError(`--backend: the service at --addr or --nats chose its own backend (${BACKEND_ENV} where it runs)`);
  try {
    process.env[BACKEND_ENV] = parseBackendChoice(values.backend);
  } catch (error) {
    throw new UsageError(`--backend: ${(error as Error).message}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof Error && err.name === 'ArchValidationError')) {
      console.error(`sm-nas: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof ClientError) {
      console.error(`sm-nas: ${Status[err.code]}: ${err.details}`);
      process.exit(1);
    }
    if (err instanceof Error && 'code' in err && (err as { code: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`sm-nas: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
