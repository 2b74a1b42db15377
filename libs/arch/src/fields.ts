// Checks of one field of untrusted input, shared by validate.ts and the module families that
// validate their own fields: each stops at the first problem and names the field (wire names,
// `neck.start_level`) and why.

import { ArchValidationError } from './errors.js';

/**
 * Which space an architecture must belong to. 'any' is what the detector can build, wider than
 * both search spaces so that hand-written architectures (a baseline, an exported model) validate.
 */
export type ValidationSpace = 'structural' | 'modular' | 'any';

/**
 * Widths of 'any': multiples of 8, what torchvision's `_make_divisible` rounds MobileNetV2 widths
 * to and the widths GPU convolution kernels are tuned for (a width of 67 would make the profiler
 * time padding, not the architecture). Above the maximum one forward pass at 1333x800 no longer
 * fits a 16 GB GPU at batch 1.
 */
export const ANY_CHANNELS = { min: 16, max: 1024, multipleOf: 8 } as const;

export function fail(field: string, reason: string): never {
  throw new ArchValidationError(field, reason);
}

export function describe(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (typeof x === 'string') return JSON.stringify(x.length > 60 ? `${x.slice(0, 60)}...` : x);
  if (typeof x === 'number' || typeof x === 'boolean' || x === null) return String(x);
  if (typeof x === 'bigint') return `${x}n`;
  return Array.isArray(x) ? 'an array' : `a ${typeof x}`;
}

export function object(x: unknown, field: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    fail(field, x === undefined ? 'missing' : `expected an object, got ${describe(x)}`);
  }
  return x as Record<string, unknown>;
}

export function integer(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x)) {
    fail(field, x === undefined ? 'missing (expected an integer)' : `expected an integer, got ${describe(x)}`);
  }
  return x;
}

export function member(x: unknown, set: ReadonlySet<string>, field: string, what: string): string {
  if (typeof x !== 'string' || !set.has(x)) {
    const known = [...set].join(', ');
    fail(field, x === undefined ? `missing (expected one of ${known})` : `unknown ${what} ${describe(x)}, expected one of ${known}`);
  }
  return x;
}

export function multipleInRange(v: number, r: { min: number; max: number; multipleOf: number }, field: string): void {
  if (v < r.min || v > r.max || v % r.multipleOf !== 0) {
    fail(field, `must be a multiple of ${r.multipleOf} from ${r.min} to ${r.max}, got ${v}`);
  }
}

/** A width: the standard one in the structural space, one of `modular` in the modular space. */
export function channelsFor(x: unknown, field: string, space: ValidationSpace, modular: readonly number[], standard: number): number {
  const c = integer(x, field);
  if (space === 'structural') {
    if (c !== standard) fail(field, `the structural space uses the standard ${standard}, got ${c}`);
  } else if (space === 'modular') {
    if (!modular.includes(c)) fail(field, `the modular space allows ${modular.join(', ')}, got ${c}`);
  } else {
    multipleInRange(c, ANY_CHANNELS, field);
  }
  return c;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** A number in a canonical string: plain decimal, no leading zeros; `position` is where its token starts. */
export function canonicalDecimal(s: string, field: string, position: number): number {
  if (!DECIMAL.test(s) || s.length > 15) {
    throw new ArchValidationError(field, `expected a decimal integer without leading zeros, got ${JSON.stringify(s)}`, position);
  }
  return Number(s);
}

// ---- The wire's and protobuf JSON's names for the domain's values ------------------------------

/** A proto enum value as the domain's kind (`BACKBONE_KIND_RESNEXT50_32X4D` -> `resnext50_32x4d`), one of `allowed`. */
export function enumToDomain<T extends string>(value: number, names: Record<number, string>, prefix: string, allowed: readonly T[], field: string): T {
  const name = names[value];
  const kind = name?.startsWith(prefix) ? name.slice(prefix.length).toLowerCase() : undefined;
  if (kind === undefined || !(allowed as readonly string[]).includes(kind)) {
    throw new ArchValidationError(field, `unknown or unspecified value ${value} (expected one of ${allowed.join(', ')})`);
  }
  return kind as T;
}

/** The proto enum value of a domain kind (its name is `prefix` + the kind in upper case). */
export function domainToEnum(kind: string, names: Record<string, number | string>, prefix: string): number {
  const value = names[prefix + kind.toUpperCase()];
  if (typeof value !== 'number') throw new Error(`no wire enum value for ${kind}`);
  return value;
}

/** A protobuf-JSON enum name as the domain's kind (`BACKBONE_KIND_RESNET50` -> `resnet50`); other values pass through. */
export function jsonEnumValue(x: unknown, prefix: string): unknown {
  return typeof x === 'string' && x.startsWith(prefix) ? x.slice(prefix.length).toLowerCase() : x;
}

/** A field under its camelCase (domain) name, else its snake_case (proto) name. */
export function pick(o: Record<string, unknown>, camel: string, snake: string): unknown {
  return o[camel] !== undefined ? o[camel] : o[snake];
}
