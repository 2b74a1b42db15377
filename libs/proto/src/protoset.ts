import { readFileSync } from 'node:fs';

/**
 * Every sm-nas proto and its imports as a serialized google.protobuf.FileDescriptorSet (built by
 * `buf build`), for gRPC server reflection: grpcurl and other clients discover the API from it.
 */
export const protoset: Uint8Array = readFileSync(new URL('./gen/protoset.binpb', import.meta.url));
