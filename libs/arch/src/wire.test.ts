import { describe, expect, it } from 'vitest';
import { architectureFromWire, withFieldPrefix } from './wire.js';

describe('wire field names', () => {
  it('names a missing architecture message once, whatever prefix the caller gives', () => {
    const message = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(message(() => architectureFromWire(undefined))).toBe('architecture: required');
    expect(message(() => withFieldPrefix('architecture', () => architectureFromWire(undefined)))).toBe('architecture: required');
    expect(message(() => withFieldPrefix('spec.initial_architectures[2]', () => architectureFromWire(undefined)))).toBe('spec.initial_architectures[2]: required');
    expect(message(() => withFieldPrefix('parent', () => architectureFromWire({ backbone: undefined, neck: undefined, head: undefined, input: undefined } as never)))).toBe(
      'parent.backbone: required',
    );
  });
});
