// A tiny service for the server tests: a nice-grpc generic definition with JSON serialization, and
// the matching .proto compiled with protoc at test time into a FileDescriptorSet for reflection.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Compiles `proto` with /usr/bin/protoc (or protoc on PATH) into a serialized FileDescriptorSet. */
export function compileProtoset(proto: string, fileName = 'test.proto'): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'sm-nas-protoset-'));
  try {
    writeFileSync(join(dir, fileName), proto);
    const out = join(dir, 'out.protoset');
    execFileSync('protoc', [`--proto_path=${dir}`, `--descriptor_set_out=${out}`, '--include_imports', fileName], {
      stdio: 'pipe',
    });
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
