// Help text, generated from the commands' option tables (never written by hand, so it cannot
// drift from what the parser accepts).
import type { Command } from './args.js';
import { defaultText, describeCheck, placeholder, type OptionSpec } from './options.js';

const HELP_LINE = ['-h, --help', 'show this help'] as const;

function columns(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`.trimEnd()).join('\n');
}

function optionName(name: string, spec: OptionSpec): string {
  const value = placeholder(spec);
  return `${spec.short ? `-${spec.short}, ` : ''}--${name}${value ? ` ${value}` : ''}`;
}

function optionText(spec: OptionSpec): string {
  // Choices are in the placeholder already.
  const check = spec.type === 'string' ? '' : describeCheck(spec);
  const fallback = defaultText(spec);
  const notes = [check, fallback === undefined ? '' : `default ${fallback}`, spec.type === 'string' && spec.required ? 'required' : ''].filter(Boolean);
  return `${spec.description}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

export function usageLine(command: Command): string {
  const required = Object.entries(command.options)
    .filter(([, spec]) => spec.type === 'string' && spec.required)
    .map(([name, spec]) => optionName(name, spec));
  return ['sm-nas', command.name, ...command.args, ...required, '[options]'].join(' ');
}

export function commandHelp(command: Command): string {
  return [
    `usage: ${usageLine(command)}`,
    '',
    command.summary,
    ...(command.details ? [command.details] : []),
    '',
    'options:',
    columns([...Object.entries(command.options).map(([name, spec]) => [optionName(name, spec), optionText(spec)] as const), HELP_LINE]),
  ].join('\n');
}

const listing = (commands: readonly Command[]) => columns(commands.map((c) => [[c.name, ...c.args].join(' '), c.summary]));

/** `sm-nas space --help`: the group's actions. */
export function groupHelp(group: string, commands: readonly Command[]): string {
  const actions = commands.filter((c) => c.name.startsWith(`${group} `));
  return [`usage: sm-nas ${group} ACTION [options]`, '', 'actions:', listing(actions), '', `sm-nas ${group} ACTION --help shows an action's options.`].join('\n');
}

export function topLevelHelp(commands: readonly Command[]): string {
  return ['usage: sm-nas COMMAND [options]', '', 'commands:', listing(commands), '', 'sm-nas COMMAND --help shows a command\'s options.'].join('\n');
}
