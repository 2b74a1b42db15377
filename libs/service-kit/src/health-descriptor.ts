// grpc.health.v1's descriptor, for server reflection: every server serves the health service, so a
// client that discovers the API by reflection (grpcurl list, Postman) should see it. The protoset
// holds only sm-nas's own protos (proto/ is our contract; the health one is gRPC's), so its file
// is described here from the published protocol (grpc/grpc-proto, grpc/health/v1/health.proto) and
// appended to the set the reflection service reads.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';

const HEALTH_FILE = 'grpc/health/v1/health.proto';

function healthFile() {
  return create(FileDescriptorProtoSchema, {
    name: HEALTH_FILE,
    package: 'grpc.health.v1',
    syntax: 'proto3',
    messageType: [
      {
        name: 'HealthCheckRequest',
        field: [{ name: 'service', jsonName: 'service', number: 1, label: FieldDescriptorProto_Label.OPTIONAL, type: FieldDescriptorProto_Type.STRING }],
      },
      {
        name: 'HealthCheckResponse',
        field: [
          {
            name: 'status',
            jsonName: 'status',
            number: 1,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.ENUM,
            typeName: '.grpc.health.v1.HealthCheckResponse.ServingStatus',
          },
        ],
        enumType: [
          {
            name: 'ServingStatus',
            value: [
              { name: 'UNKNOWN', number: 0 },
              { name: 'SERVING', number: 1 },
              { name: 'NOT_SERVING', number: 2 },
              { name: 'SERVICE_UNKNOWN', number: 3 },
            ],
          },
        ],
      },
    ],
    service: [
      {
        name: 'Health',
        method: [
          { name: 'Check', inputType: '.grpc.health.v1.HealthCheckRequest', outputType: '.grpc.health.v1.HealthCheckResponse' },
          { name: 'Watch', inputType: '.grpc.health.v1.HealthCheckRequest', outputType: '.grpc.health.v1.HealthCheckResponse', serverStreaming: true },
        ],
      },
    ],
  });
}

/** `protoset` (a serialized FileDescriptorSet) with grpc.health.v1 added, unless it has it already. */
export function withHealthDescriptor(protoset: Uint8Array): Uint8Array {
  const set = fromBinary(FileDescriptorSetSchema, protoset);
  if (set.file.some((f) => f.name === HEALTH_FILE)) return protoset;
  set.file.push(healthFile());
  return toBinary(FileDescriptorSetSchema, set);
}
