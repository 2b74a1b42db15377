// nas.common.v1 is split over two files; this is its one namespace.
export * from './gen/nas/common/v1/architecture.js';
export {
  CocoMetrics,
  LatencyStats,
  ModuleLatency,
  Fidelity,
} from './gen/nas/common/v1/metrics.js';
