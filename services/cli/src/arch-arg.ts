import { readFileSync } from 'node:fs';
import { MAX_SEED, parseArchitecture, type Architecture } from '@sm-nas/arch';

/**
 * An architecture on the command line: its canonical string, JSON (camelCase or the wire's
 * snake_case), or `@file` holding either.
 */
export function readArchitectureArg(text: string | undefined, what = 'architecture'): Architecture {
  if (!text) throw new UsageError(`missing ${what}: give a canonical string, JSON, or @file`);
  const source = text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text;
  return parseArchitecture(source.trim());
}

/** A `--seed` as the wire's uint64 takes it: decimal digits, 0 to 2^64-1, kept exact (a bigint). */
export function readSeedArg(text: string | undefined, flag: string, fallback: bigint): bigint {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || BigInt(text) > MAX_SEED) throw new UsageError(`${flag}: expected a whole number from 0 to 2^64-1, got "${text}"`);
  return BigInt(text);
}

/** A mistake in how the command was called: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
