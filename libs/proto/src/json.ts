// Messages as protobuf's canonical JSON with every field written, zeros included: files users read
// (a search's candidates.jsonl and pareto.json) must say `"ap": 0`, not leave it out the way
// proto3 JSON does by default, and 64-bit integers stay exact (as strings). The generated codecs
// encode; @bufbuild/protobuf reads the bytes back against the descriptors in the protoset.
import { createFileRegistry, fromBinary, toJson, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { protoset } from './protoset.js';

let registry: FileRegistry | undefined;

/** `message` of the protobuf type `typeName` (e.g. "nas.controller.v1.Candidate") as JSON, every field present. */
export function toFullJson<T>(codec: { encode(message: T): { finish(): Uint8Array } }, typeName: string, message: T): JsonValue {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, protoset));
  const schema = registry.getMessage(typeName);
  if (!schema) throw new Error(`no message type ${typeName} in the protoset`);
  return toJson(schema, fromBinary(schema, codec.encode(message).finish()), { alwaysEmitImplicit: true });
}
