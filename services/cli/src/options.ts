// One command-line option as a command declares it: its kind, default, help text and the checks its
// value must pass. Parsing and help both read these declarations, so they cannot disagree.
// A seed is a uint64 on the wire; every one of them is a valid seed (@sm-nas/random's rule).
import { MAX_SEED } from '@sm-nas/random';
import { UsageError } from './usage-error.js';

interface Described {
  description: string;
  short?: string;
  /** For help, where the default is not one value: "the profiler's", "60 without --steps, else 0". */
  defaultNote?: string;
}

export interface BooleanOption extends Described {
  type: 'boolean';
}

export interface StringOption extends Described {
  type: 'string';
  /** The value's placeholder in help, e.g. DIR. */
  value: string;
  default?: string;
  choices?: readonly string[];
  required?: boolean;
}

export interface NumberOption extends Described {
  type: 'number';
  value: string;
  default?: number;
  integer?: boolean;
  /** Inclusive bounds; `above` is an exclusive lower bound (a learning rate above 0). */
  min?: number;
  above?: number;
  max?: number;
}

/** A uint64 as the wire takes it, kept exact as a bigint. */
export interface SeedOption extends Described {
  type: 'seed';
  default?: bigint;
}

/** WIDTHxHEIGHT in pixels. */
export interface SizeOption extends Described {
  type: 'size';
}

export type OptionSpec = BooleanOption | StringOption | NumberOption | SeedOption | SizeOption;
export type OptionTable = Readonly<Record<string, OptionSpec>>;
export interface Size {
  widthPx: number;
  heightPx: number;
}

type ValueOf<O extends OptionSpec> = O extends BooleanOption
  ? boolean
  : O extends NumberOption
    ? number
    : O extends SeedOption
      ? bigint
      : O extends SizeOption
        ? Size
        : O extends { choices: readonly (infer C)[] }
          ? C
          : string;

/** What a command receives: a value for every option, `undefined` where none was given and there is no default. */
export type OptionValues<T extends OptionTable> = {
  -readonly [K in keyof T]: T[K] extends BooleanOption
    ? boolean
    : T[K] extends { default: unknown } | { required: true }
      ? ValueOf<T[K]>
      : ValueOf<T[K]> | undefined;
};

/** The value's placeholder in help and errors (`--seed N`). */
export function placeholder(spec: OptionSpec): string {
  switch (spec.type) {
    case 'boolean':
      return '';
    case 'seed':
      return 'N';
    case 'size':
      return 'WxH';
    case 'number':
      return spec.value;
    case 'string':
      return spec.choices ? spec.choices.join('|') : spec.value;
  }
}

/** The check a value must pass, in words: "a whole number >= 1". Empty when anything goes. */
export function describeCheck(spec: OptionSpec): string {
  switch (spec.type) {
    case 'number': {
      const bounds = [
        spec.above !== undefined ? `> ${spec.above}` : '',
        spec.min !== undefined ? `>= ${spec.min}` : '',
        spec.max !== undefined ? `<= ${spec.max}` : '',
      ].filter(Boolean);
      return `${spec.integer ? 'a whole number' : 'a number'} ${bounds.join(' and ')}`.trimEnd();
    }
    case 'seed':
      return 'a whole number from 0 to 2^64-1';
    case 'size':
      return 'WIDTHxHEIGHT such as 1333x800';
    case 'string':
      return spec.choices ? `one of ${spec.choices.join(', ')}` : '';
    default:
      return '';
  }
}

/** The default as help shows it, or undefined where there is none. */
export function defaultText(spec: OptionSpec): string | undefined {
  if (spec.type === 'boolean' || spec.type === 'size' || spec.default === undefined) return spec.defaultNote;
  return String(spec.default);
}

/** `text` as the option's value; a UsageError naming `--name` where it does not pass. */
export function readOptionValue(name: string, spec: OptionSpec, text: string): unknown {
  const wrong = () => new UsageError(`--${name}: expected ${describeCheck(spec)}, got "${text}"`);
  switch (spec.type) {
    case 'boolean':
      throw new UsageError(`--${name}: takes no value, got "${text}"`);
    case 'string':
      if (spec.choices && !spec.choices.includes(text)) throw wrong();
      return text;
    case 'number': {
      // Number('') is 0 and Number('0x10') is 16: accept plain decimal notation only.
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim())) throw wrong();
      const n = Number(text);
      if (!Number.isFinite(n) || (spec.integer && !Number.isSafeInteger(n))) throw wrong();
      if (spec.min !== undefined && n < spec.min) throw wrong();
      if (spec.above !== undefined && n <= spec.above) throw wrong();
      if (spec.max !== undefined && n > spec.max) throw wrong();
      return n;
    }
    case 'seed':
      if (!/^\d+$/.test(text) || BigInt(text) > MAX_SEED) throw wrong();
      return BigInt(text);
    case 'size': {
      const match = /^(\d+)x(\d+)$/.exec(text);
      if (!match) throw wrong();
      return { widthPx: Number(match[1]), heightPx: Number(match[2]) };
    }
  }
}
