// Span attribute names of the project, all under the `nas.` prefix, declared here and only here
// (like @opentelemetry/semantic-conventions' ATTR_* constants). Standard attributes (rpc.*,
// messaging.*, service.name) come from @opentelemetry/semantic-conventions instead.

/** The search (experiment) a span belongs to. */
export const ATTR_NAS_SEARCH_ID = 'nas.search.id';
/** The search stage: `structural` (stage 1) or `modular` (stage 2). */
export const ATTR_NAS_SEARCH_STAGE = 'nas.search.stage';
/** A candidate proposed within a search (one candidate, one trace). */
export const ATTR_NAS_CANDIDATE_ID = 'nas.candidate.id';
/** The architecture's stable id (libs/arch's canonical encoding hash). */
export const ATTR_NAS_ARCH_ID = 'nas.arch.id';
/** The hardware class a latency was measured on, e.g. `nvidia-t4`, `cpu-wasm`. */
export const ATTR_NAS_HARDWARE_CLASS = 'nas.hardware.class';
/** The fidelity a training run used (input scale, width, steps), as its canonical name. */
export const ATTR_NAS_FIDELITY = 'nas.fidelity';
/** The dataset a training or evaluation used. */
export const ATTR_NAS_DATASET = 'nas.dataset';
/** Input size as `WxH`, e.g. `1333x800`. */
export const ATTR_NAS_INPUT_SIZE = 'nas.input.size';
/** Batch size of a profiling or training run. */
export const ATTR_NAS_BATCH_SIZE = 'nas.batch.size';
/** Training epoch (0-based). */
export const ATTR_NAS_TRAIN_EPOCH = 'nas.train.epoch';
/** Multiply-adds counted by the flops service. */
export const ATTR_NAS_FLOPS_MULTIPLY_ADDS = 'nas.flops.multiply_adds';
/** Parameter count. */
export const ATTR_NAS_PARAMS = 'nas.params';
/** Measured median latency in milliseconds. */
export const ATTR_NAS_LATENCY_MS_P50 = 'nas.latency.ms_p50';
/** The suggestion algorithm, e.g. `nsga2`, `evolution`, `random`. */
export const ATTR_NAS_SUGGESTION_ALGORITHM = 'nas.suggestion.algorithm';
/** On a `retry` event of a client span: the attempt about to be made (the first retry is 2). */
export const ATTR_NAS_RETRY_ATTEMPT = 'nas.retry.attempt';
/** On a `retry` event: the status name the failed attempt ended with, e.g. `UNAVAILABLE`. */
export const ATTR_NAS_RETRY_STATUS = 'nas.retry.status';
/** On a `retry` event: milliseconds waited before the attempt. */
export const ATTR_NAS_RETRY_DELAY_MS = 'nas.retry.delay_ms';
