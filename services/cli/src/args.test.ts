// The command line against the option tables, without starting a process or a service.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './args.js';
import { COMMANDS } from './command-table.js';
import { UsageError } from './usage-error.js';

const ARCH = 'resnet18:16:11-21-21-21/fpn:3-5:16/none/retinanet:16/64x64';

function parse(...argv: string[]) {
  const line = parseCommandLine(argv, COMMANDS);
  if (line.kind !== 'run') throw new Error(`expected a command to run, got help:\n${line.text}`);
  return line;
}

function help(...argv: string[]): string {
  const line = parseCommandLine(argv, COMMANDS);
  if (line.kind !== 'help') throw new Error(`expected help, got ${line.command.name}`);
  return line.text;
}

/** The usage error parsing argv gives (one line, no stack), or a failure if it parses. */
function usageError(...argv: string[]): string {
  try {
    parseCommandLine(argv, COMMANDS);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`sm-nas ${argv.join(' ')} parsed`);
}

/** `--name` of every option line in a command's help. */
function optionsInHelp(text: string): string[] {
  const section = text.slice(text.indexOf('\noptions:\n'));
  return [...section.matchAll(/^ {2}(?:-\w, )?--([\w-]+)/gm)].map((m) => m[1]!);
}

describe('sm-nas command line', () => {
  it("refuses one command's option on another, naming the option and the command", () => {
    expect(parse('profile', ARCH, '--iterations', '5').values.iterations).toBe(5);
    expect(usageError('train', ARCH, '--iterations', '5')).toMatch(/^unknown option --iterations for sm-nas train /);
    expect(usageError('demo', '--backend', 'cpu')).toMatch(/^unknown option --backend for sm-nas demo /);
    // Actions of a group have their own options too.
    expect(parse('space', 'sample', '--stage', 'modular', '--count', '3').values.count).toBe(3);
    expect(usageError('space', 'size', '--stage', 'modular', '--count', '3')).toMatch(/^unknown option --count for sm-nas space size /);
  });

  it('refuses a value that is not a number, not whole or out of range, naming the option', () => {
    expect(usageError('profile', ARCH, '--iterations', 'abc')).toMatch(/^--iterations: expected a whole number >= 1, got "abc"/);
    expect(usageError('profile', ARCH, '--iterations', '2.5')).toMatch(/^--iterations: expected a whole number/);
    expect(usageError('profile', ARCH, '--iterations', '')).toMatch(/^--iterations: expected/);
    expect(usageError('profile', ARCH, '--cv', '1.5')).toMatch(/^--cv: expected a number > 0 and <= 1, got "1.5"/);
    expect(usageError('train', ARCH, '--lr', '0')).toMatch(/^--lr: expected a number > 0/);
    expect(usageError('train', ARCH, '--lr', '0x10')).toMatch(/^--lr: expected a number/);
    expect(usageError('search', '--structural', '0')).toMatch(/^--structural: expected a whole number >= 1, got "0"/);
    expect(usageError('demo', '--seed', '-1')).toMatch(/^--seed: expected a whole number from 0 to 2\^64-1/);
    expect(usageError('demo', '--seed', String(2n ** 64n))).toMatch(/^--seed: /);
    expect(usageError('flops', ARCH, '--input', '640')).toMatch(/^--input: expected WIDTHxHEIGHT/);
    expect(usageError('train', ARCH, '--schedule', 'linear')).toMatch(/^--schedule: expected one of constant, cosine, got "linear"/);
  });

  it('refuses a missing value, a value on a flag, a missing or extra argument and a missing required option', () => {
    expect(usageError('profile', ARCH, '--iterations')).toMatch(/^--iterations: missing value/);
    expect(usageError('profile', ARCH, '--iterations', '--seconds', '3')).toMatch(/^--iterations: missing value/);
    expect(usageError('flops', ARCH, '--json=yes')).toMatch(/^--json: takes no value/);
    expect(usageError('flops')).toMatch(/^missing ARCH/);
    expect(usageError('flops', ARCH, ARCH)).toMatch(/^unexpected argument/);
    expect(usageError('space', 'size')).toMatch(/^--stage: required/);
    expect(usageError('bogus')).toMatch(/^unknown command "bogus"/);
    expect(usageError('space', 'bogus')).toMatch(/^unknown action "space bogus"/);
  });

  it("applies each command's defaults where an option is not given", () => {
    expect(parse('train', ARCH).values).toEqual({
      steps: undefined, seconds: undefined, 'input-scale': undefined, width: undefined, batch: 8, lr: 1e-3, schedule: 'constant',
      seed: 0n, images: 1000, pretrained: undefined, addr: undefined, backend: undefined, json: false,
    });
    expect(parse('search').values).toMatchObject({ structural: 12, modular: 8, minutes: 19, parallelism: 2, algorithm: 'evolution', seed: 1n, 'data-dir': '.sm-nas' });
    expect(parse('demo').values).toEqual({ count: 12, seed: 1n, 'data-dir': '.sm-nas' });
    expect(parse('space', 'sample', '--stage', 'structural').values).toMatchObject({ count: 10, seed: 0n, json: false });
    expect(parse('flops', ARCH, '--form', 'classification').values.form).toBe('classification');
    expect(parse('flops', ARCH).values.form).toBe('detection');
  });

  it("lists in each command's help exactly the options it declares", () => {
    for (const command of COMMANDS) {
      const text = help(...command.name.split(' '), '--help');
      expect(optionsInHelp(text), command.name).toEqual([...Object.keys(command.options), 'help']);
      expect(help('help', ...command.name.split(' '))).toBe(text);
    }
  });

  it('lists every command in the top-level help, and the actions of a group in its help', () => {
    const top = help();
    expect(help('--help')).toBe(top);
    for (const command of COMMANDS) expect(top).toMatch(new RegExp(`^ {2}${command.name} `, 'm'));
    const space = help('space', '--help');
    for (const command of COMMANDS) {
      if (command.name.startsWith('space ')) expect(space).toContain(command.name);
      else expect(space).not.toMatch(new RegExp(`^ {2}${command.name} `, 'm'));
    }
  });

  it('takes every `pnpm sm-nas` line of the README and the calls of the benchmarks and tests', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const lines = [...readme.matchAll(/^pnpm sm-nas (.*?)(?:\s+#.*)?$/gm)].map((m) => m[1]!);
    expect(lines.length).toBeGreaterThan(10);
    const calls = [
      ...lines.map(words),
      ['search', '--data-dir', '/tmp/runs/search6'],
      ['train', ARCH, '--steps', '40', '--batch', '16', '--lr', '2e-3', '--schedule', 'cosine', '--images', '2000'],
      ['train', ARCH, '--width', '1', '--input-scale', '1', '--batch', '8'],
      ['train', ARCH, '--backend', 'webgpu', '--steps', '3', '--batch', '2', '--images', '8'],
      ['profile', ARCH, '--backend', 'webgpu', '--iterations', '5', '--seconds', '0.1', '--json'],
    ];
    for (const argv of calls) {
      const line = parseCommandLine(argv, COMMANDS);
      expect(line.kind, argv.join(' ')).toBe(argv.includes('--help') ? 'help' : 'run');
    }
  });
});

/** A README command line as the shell splits it (single quotes only, as the README writes them). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

