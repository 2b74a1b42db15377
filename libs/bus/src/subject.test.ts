import { describe, expect, expectTypeOf, it } from 'vitest';
import { jsonCodec, protoCodec, type MessageFns } from './codec.js';
import { defineSubject, type Destination } from './subject.js';

describe('defineSubject', () => {
  const profileRequest = defineSubject({ subject: 'nas.profile.request.{hardwareClass}', codec: jsonCodec<{ archId: string }>() });
  const proposed = defineSubject({ subject: 'nas.candidate.proposed', codec: jsonCodec<{ id: string }>() });

  it('fills tokens for publishers and wildcards them for subscribers', () => {
    expect(profileRequest.tokens).toEqual(['hardwareClass']);
    expect(profileRequest.to({ hardwareClass: 'nvidia-t4' }).subject).toBe('nas.profile.request.nvidia-t4');
    expect(profileRequest.filter()).toBe('nas.profile.request.*');
    expect(profileRequest.filter({ hardwareClass: 'cpu-wasm' })).toBe('nas.profile.request.cpu-wasm');
    expect(profileRequest.match('nas.profile.request.nvidia-t4')).toEqual({ hardwareClass: 'nvidia-t4' });
    expect(profileRequest.match('nas.profile.reply.nvidia-t4')).toBeUndefined();
    expect(profileRequest.match('nas.profile.request.a.b')).toBeUndefined();
  });

  it('makes a token-free subject a destination, and types tokens', () => {
    expect(proposed.subject).toBe('nas.candidate.proposed');
    expectTypeOf(proposed).toExtend<Destination<{ id: string }>>();
    expectTypeOf(profileRequest).not.toExtend<Destination<{ archId: string }>>();
    expectTypeOf(profileRequest.to).parameter(0).toEqualTypeOf<Record<'hardwareClass', string>>();
  });

  it('rejects token values that are not one NATS token, and malformed patterns', () => {
    expect(() => profileRequest.to({ hardwareClass: 'a.b' })).toThrow(/hardwareClass: expected one NATS token/);
    expect(() => profileRequest.to({ hardwareClass: '*' })).toThrow(/hardwareClass/);
    expect(() => defineSubject({ subject: 'nas..x', codec: jsonCodec() })).toThrow(/dot-separated/);
    expect(() => defineSubject({ subject: 'nas.>', codec: jsonCodec() })).toThrow(/wildcards/);
    expect(() => defineSubject({ subject: 'nas.x{id}', codec: jsonCodec() })).toThrow(/whole dot-separated part/);
  });
});

describe('codecs', () => {
  it('adapts ts-proto message functions', () => {
    // The shape ts-proto generates: encode returns a Writer, decode takes bytes.
    const Fake: MessageFns<{ n: number }> = {
      encode: (m) => ({ finish: () => Uint8Array.of(m.n) }),
      decode: (input) => ({ n: input[0] ?? 0 }),
    };
    const codec = protoCodec(Fake);
    expect(codec.encode({ n: 7 })).toEqual(Uint8Array.of(7));
    expect(codec.decode(Uint8Array.of(9))).toEqual({ n: 9 });
  });

  it('round-trips JSON', () => {
    const codec = jsonCodec<{ a: number[] }>();
    expect(codec.decode(codec.encode({ a: [1, 2] }))).toEqual({ a: [1, 2] });
  });
});
