// The `sm-nas` command: parse, run, and turn a mistake in the call into one line and exit code 2.
import { ClientError, Status } from 'nice-grpc';
import { parseCommandLine } from './args.js';
import { COMMANDS } from './command-table.js';
import { UsageError } from './usage-error.js';

async function main(argv: string[]): Promise<number> {
  const line = parseCommandLine(argv, COMMANDS);
  if (line.kind === 'help') {
    console.log(line.text);
    return 0;
  }
  const output = await line.command.run(line.values, line.args);
  if (typeof output === 'string') console.log(output);
  return 0;
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
    console.error(err);
    process.exit(1);
  },
);
