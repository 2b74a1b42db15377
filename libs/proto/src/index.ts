// The wire contract, generated from proto/ (see buf.gen.yaml). One namespace per protobuf package,
// so `nas.flops.v1.CountRequest` is `flops.CountRequest` here.
export * as common from './common.js';
export * as searchspace from './gen/nas/searchspace/v1/searchspace.js';
export * as flops from './gen/nas/flops/v1/flops.js';
export * as profiler from './gen/nas/profiler/v1/profiler.js';
export * as trainer from './gen/nas/trainer/v1/trainer.js';
export * as controller from './gen/nas/controller/v1/controller.js';
export * as suggestion from './gen/nas/suggestion/v1/suggestion.js';
export * as events from './gen/nas/events/v1/events.js';
