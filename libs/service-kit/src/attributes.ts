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
/** Input size as `WxH`, e.g. `1333x800`. */
export const ATTR_NAS_INPUT_SIZE = 'nas.input.size';
/** Batch size of a profiling or training run. */
export const ATTR_NAS_BATCH_SIZE = 'nas.batch.size';
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
/** Suggestions asked for in one round, the round's number, and how many came back unusable. */
export const ATTR_NAS_SUGGESTION_COUNT = 'nas.suggestion.count';
export const ATTR_NAS_SUGGESTION_ROUND = 'nas.suggestion.round';
export const ATTR_NAS_SUGGESTION_REJECTED = 'nas.suggestion.rejected';
/** Where a candidate came from (initial, suggested, repaired, ...) and its parents' candidate ids. */
export const ATTR_NAS_CANDIDATE_ORIGIN = 'nas.candidate.origin';
export const ATTR_NAS_CANDIDATE_PARENT_IDS = 'nas.candidate.parent_ids';
/** The candidate's evaluation resumed after a controller restart. */
export const ATTR_NAS_CANDIDATE_RESUMED = 'nas.candidate.resumed';
/** A trained candidate's validation AP. */
export const ATTR_NAS_ACCURACY_AP = 'nas.accuracy.ap';
/** On a span link: what the linked span is (the suggestion round a candidate came from). */
export const ATTR_NAS_LINK = 'nas.link';
/** A training run's job id and, once it ends, its status (TRAIN_STATUS_*). */
export const ATTR_NAS_TRAIN_JOB_ID = 'nas.train.job_id';
export const ATTR_NAS_TRAIN_STATUS = 'nas.train.status';
