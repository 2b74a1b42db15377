// Typed subjects: a subject pattern (which may contain `{token}` placeholders standing for one
// NATS token each, e.g. `nas.profile.request.{hardwareClass}`) and the codec of its payload.
import type { Codec } from './codec.js';

/** The token names of a pattern: `'a.{x}.{y}'` -> `'x' | 'y'`. */
export type SubjectTokens<S extends string> = S extends `${string}{${infer Token}}${infer Rest}`
  ? Token | SubjectTokens<Rest>
  : never;

/** A concrete subject and its codec: what publish and request take. */
export interface Destination<T> {
  readonly subject: string;
  /** The pattern the subject came from (a low-cardinality span name). */
  readonly pattern: string;
  readonly codec: Codec<T>;
}

export interface SubjectDefinition<T, S extends string = string> {
  subject: S;
  codec: Codec<T>;
  description?: string;
}

export interface SubjectBase<T, P extends string> {
  readonly pattern: string;
  readonly codec: Codec<T>;
  readonly description: string | undefined;
  readonly tokens: readonly P[];
  /** The pattern with the given tokens filled in and the others as `*`: what subscribers listen on. */
  filter(params?: Partial<Record<P, string>>): string;
  /** The concrete subject for these token values. */
  to(params: Record<P, string>): Destination<T>;
  /** The token values of a concrete subject, or undefined if it does not match the pattern. */
  match(subject: string): Record<P, string> | undefined;
}

/** A subject without tokens is itself a destination. */
export type Subject<T, P extends string = never> = SubjectBase<T, P> &
  ([P] extends [never] ? Destination<T> : { readonly subject?: never });

/** Any subject with payload T, whatever its tokens. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySubject<T> = SubjectBase<T, any>;

const TOKEN = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;
const VALID_TOKEN_VALUE = /^[^\s.*>]+$/;

export function defineSubject<T, const S extends string = string>(
  definition: SubjectDefinition<T, S>,
): Subject<T, SubjectTokens<S>> {
  type P = SubjectTokens<S>;
  const pattern = definition.subject;
  const parts = pattern.split('.');
  if (parts.some((p) => p === '' || /[\s*>]/.test(p))) {
    throw new Error(`subject ${JSON.stringify(pattern)}: expected dot-separated tokens without wildcards or spaces`);
  }
  const tokens = [...pattern.matchAll(TOKEN)].map((m) => m[1]) as P[];
  for (const part of parts) {
    if (part.includes('{') && !/^\{[A-Za-z][A-Za-z0-9_]*\}$/.test(part)) {
      throw new Error(`subject ${JSON.stringify(pattern)}: a {token} must be a whole dot-separated part, got ${part}`);
    }
  }

  const fill = (params: Partial<Record<P, string>>, missing: (token: string) => string) =>
    pattern.replace(TOKEN, (_, token: string) => {
      const value = (params as Record<string, string | undefined>)[token];
      if (value === undefined) return missing(token);
      if (!VALID_TOKEN_VALUE.test(value)) {
        throw new Error(`subject ${pattern}: ${token}: expected one NATS token (no dots, spaces or wildcards), got ${JSON.stringify(value)}`);
      }
      return value;
    });

  const base: SubjectBase<T, P> = {
    pattern,
    codec: definition.codec,
    description: definition.description,
    tokens,
    filter: (params = {}) => fill(params, () => '*'),
    to: (params) => ({
      subject: fill(params, (token) => {
        throw new Error(`subject ${pattern}: ${token}: expected a value`);
      }),
      pattern,
      codec: definition.codec,
    }),
    match(subject) {
      const actual = subject.split('.');
      if (actual.length !== parts.length) return undefined;
      const params: Record<string, string> = {};
      for (const [i, part] of parts.entries()) {
        const token = /^\{(.+)\}$/.exec(part)?.[1];
        if (token) params[token] = actual[i] as string;
        else if (part !== actual[i]) return undefined;
      }
      return params as Record<P, string>;
    },
  };
  return (tokens.length === 0 ? { ...base, subject: pattern } : base) as Subject<T, P>;
}
