// The `sm-nas` command line: which command, its options and its arguments. Every command declares
// its options once (options.ts); this reads argv against that table alone, so an option of one
// command is refused on another, and every value is checked before a command runs.
import { parseArgs } from 'node:util';
import { readOptionValue, type OptionTable, type OptionValues } from './options.js';
import { UsageError } from './usage-error.js';
import { commandHelp, groupHelp, topLevelHelp } from './help.js';

export interface Command {
  /** `train`, or `space sample` for an action of a command group. */
  name: string;
  /** Its positional arguments, every one required, as help names them: ['ARCH']. */
  args: readonly string[];
  /** One line for the list of commands. */
  summary: string;
  /** More for the command's own help. */
  details?: string;
  options: OptionTable;
  /** Runs it; a string returned goes to stdout. */
  run(values: Readonly<Record<string, unknown>>, args: string[]): Promise<string | void>;
}

/** A command whose `run` sees its own options' types. */
export function defineCommand<T extends OptionTable>(command: {
  name: string;
  args: readonly string[];
  summary: string;
  details?: string;
  options: T;
  run(values: OptionValues<T>, args: string[]): Promise<string | void>;
}): Command {
  // Sound: parseCommandLine fills `values` from this same table.
  return command as unknown as Command;
}

export type CommandLine =
  | { kind: 'help'; text: string }
  | { kind: 'run'; command: Command; values: Record<string, unknown>; args: string[] };

const isHelp = (arg: string | undefined) => arg === '-h' || arg === '--help';

export function parseCommandLine(argv: readonly string[], commands: readonly Command[]): CommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || isHelp(first)) return { kind: 'help', text: topLevelHelp(commands) };
  if (first === 'help') return rest.length === 0 ? { kind: 'help', text: topLevelHelp(commands) } : helpFor(rest, commands);
  if (first.startsWith('-')) throw new UsageError(`${first}: options go after the command (sm-nas --help lists the commands)`);
  const { command, tail } = findCommand(first, rest, commands);
  if (command === undefined) return { kind: 'help', text: groupHelp(first, commands) };
  return parseOptions(command, tail);
}

/** `help train`, `help space`, `help space sample`. */
function helpFor(words: string[], commands: readonly Command[]): CommandLine {
  const command = commands.find((c) => c.name === words.join(' '));
  if (command) return { kind: 'help', text: commandHelp(command) };
  if (words.length === 1 && commands.some((c) => c.name.startsWith(`${words[0]} `))) return { kind: 'help', text: groupHelp(words[0]!, commands) };
  throw new UsageError(`help: no command "${words.join(' ')}" (sm-nas --help lists the commands)`);
}

/** The command named by the first word (or two, for a group's action); no command where a group's help was asked for. */
function findCommand(word: string, rest: string[], commands: readonly Command[]): { command?: Command; tail: string[] } {
  const exact = commands.find((c) => c.name === word);
  if (exact) return { command: exact, tail: rest };
  const actions = commands.filter((c) => c.name.startsWith(`${word} `));
  if (actions.length === 0) throw new UsageError(`unknown command "${word}" (sm-nas --help lists the commands)`);
  const [action, ...tail] = rest;
  if (action === undefined || isHelp(action)) {
    if (action === undefined) throw new UsageError(`${word}: missing action, one of ${actions.map((c) => c.name.slice(word.length + 1)).join(', ')} (sm-nas ${word} --help)`);
    return { tail };
  }
  const command = actions.find((c) => c.name === `${word} ${action}`);
  if (!command) throw new UsageError(`unknown action "${word} ${action}", expected one of ${actions.map((c) => c.name.slice(word.length + 1)).join(', ')}`);
  return { command, tail };
}

function parseOptions(command: Command, argv: string[]): CommandLine {
  const hint = `(sm-nas ${command.name} --help)`;
  const fail = (message: string) => new UsageError(`${message} ${hint}`);
  // Not strict: unknown options and missing values come back as tokens, and the errors below name
  // the option and the command instead of Node's generic ones.
  const { tokens } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.entries(command.options).map(([name, spec]) => [name, { type: spec.type === 'boolean' ? 'boolean' : 'string', ...(spec.short ? { short: spec.short } : {}) }]),
    ),
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  if (tokens.some((t) => t.kind === 'option' && (t.name === 'help' || (t.name === 'h' && t.rawName === '-h')))) {
    return { kind: 'help', text: commandHelp(command) };
  }
  const values: Record<string, unknown> = {};
  const args: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      args.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = command.options[token.name];
    if (spec === undefined) throw fail(`unknown option ${token.rawName} for sm-nas ${command.name}`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw fail(`--${token.name}: takes no value, got "${token.value}"`);
      values[token.name] = true;
      continue;
    }
    // `--iterations --seconds 3`: the next option is no value (a negative number may be one).
    const value = token.value;
    if (value === undefined || (!token.inlineValue && /^-(?![\d.])/.test(value))) throw fail(`--${token.name}: missing value`);
    try {
      values[token.name] = readOptionValue(token.name, spec, value);
    } catch (error) {
      throw error instanceof UsageError ? fail(error.message) : error;
    }
  }
  for (const [name, spec] of Object.entries(command.options)) {
    if (name in values) continue;
    if (spec.type === 'boolean') values[name] = false;
    else if (spec.type !== 'size' && spec.default !== undefined) values[name] = spec.default;
    else if (spec.type === 'string' && spec.required) throw fail(`--${name}: required`);
    else values[name] = undefined;
  }
  if (args.length > command.args.length) throw fail(`unexpected argument "${args[command.args.length]}"`);
  if (args.length < command.args.length) throw fail(`missing ${command.args[args.length]}`);
  return { kind: 'run', command, values, args };
}
