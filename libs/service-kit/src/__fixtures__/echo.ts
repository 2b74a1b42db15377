// A tiny service for the server tests: a nice-grpc generic definition with JSON serialization, and
// the matching .proto (compiled with `compileProtoset` at test time for reflection).
import type { MethodDefinition } from 'nice-grpc';

export interface EchoRequest {
  text: string;
  /** What the handler should do: echo (default), throw a domain error, a plain Error, or wait. */
  behaviour?: 'echo' | 'invalid' | 'crash' | 'not-found' | 'wait' | 'hang';
  waitMs?: number;
}
export interface EchoResponse {
  text: string;
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decode = <T>(bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as T;

function unary<Req, Res>(path: string): MethodDefinition<Req, Req, Res, Res, false, false> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: encode,
    requestDeserialize: (b) => decode<Req>(b),
    responseSerialize: encode,
    responseDeserialize: (b) => decode<Res>(b),
    options: {},
  };
}

export const EchoDefinition = {
  echo: unary<EchoRequest, EchoResponse>('/test.echo.v1.Echo/Echo'),
} as const;

export const ECHO_PROTO = `syntax = "proto3";
package test.echo.v1;
message EchoRequest { string text = 1; string behaviour = 2; int32 wait_ms = 3; }
message EchoResponse { string text = 1; }
service Echo { rpc Echo(EchoRequest) returns (EchoResponse); }
`;
