import { readFileSync } from 'node:fs';
import { parseArchitecture, type Architecture } from '@sm-nas/arch';
import { UsageError } from './usage-error.js';

/**
 * An architecture on the command line: its canonical string, JSON (camelCase or the wire's
 * snake_case), or `@file` holding either.
 */
export function readArchitectureArg(text: string | undefined, what = 'architecture'): Architecture {
  if (!text) throw new UsageError(`missing ${what}: give a canonical string, JSON, or @file`);
  const source = text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text;
  return parseArchitecture(source.trim());
}
