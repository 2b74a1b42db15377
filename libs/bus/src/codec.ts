// How a subject's payload is (de)serialized. The shape fits ts-proto's generated message objects
// through `protoCodec(Msg)`; `jsonCodec` is for tests and tooling.

export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** What ts-proto generates for each message (`export const Msg: MessageFns<Msg>`). */
export interface MessageFns<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

export function protoCodec<T>(fns: MessageFns<T>): Codec<T> {
  return {
    encode: (value) => fns.encode(value).finish(),
    decode: (bytes) => fns.decode(bytes),
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Plain JSON values. Not for a message as ts-proto decodes it: its 64-bit integers are bigints,
 * which JSON.stringify refuses; store `Msg.toJSON(m)` (protobuf's JSON: int64 as decimal strings)
 * and read it back with `Msg.fromJSON`, which takes numbers too.
 */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) => encoder.encode(JSON.stringify(value)),
    decode: (bytes) => JSON.parse(decoder.decode(bytes)) as T,
  };
}

/** An empty payload, for subjects whose message is the subject itself. */
export const emptyCodec: Codec<void> = {
  encode: () => new Uint8Array(0),
  decode: () => undefined,
};
