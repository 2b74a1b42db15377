// Each service's default gRPC port, in one table: the services' `<SERVICE>_PORT` default and the
// tests that check the deployed manifests against it. deploy/k8s spells the same numbers in YAML
// (containerPort, Service port, probes, network policies); tests/k8s.test.ts checks them against
// this table. The local mesh and the tests' servers take free ports instead.
export const DEFAULT_PORTS = {
  controller: 50050,
  searchspace: 50051,
  flops: 50052,
  profiler: 50053,
  trainer: 50054,
  suggestion: 50056,
} as const satisfies Record<string, number>;

export type PortedService = keyof typeof DEFAULT_PORTS;
