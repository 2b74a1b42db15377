// The project's subjects, declared here and only here. Naming: `nas.<domain>.<event-or-verb>`,
// lower-case, dot-separated; a routing token goes last as a `{token}` (one NATS token, e.g. a
// hardware class `nvidia-t4`). Payloads are the event messages of proto/nas/<domain>/v1, wrapped
// with `protoCodec(Msg)` from @sm-nas/proto.
import { events, profiler } from '@sm-nas/proto';
import { protoCodec } from './codec.js';
import { defineSubject } from './subject.js';
//
// Streams (see STREAMS below): the search journal is a limits-retention stream over the events, so
// a restarted controller replays it; training jobs are a work-queue stream that trainers consume
// through one durable, so each job is taken by exactly one trainer.

export const STREAMS = {
  /** The search journal: every search's entries (`nas.search.journal.*`) and its training results. */
  journal: { name: 'NAS_JOURNAL', subjects: ['nas.search.>', 'nas.train.result.>'] },
  /** Training jobs, work-queue retention: each job is removed once a trainer acks it. */
  trainJobs: { name: 'NAS_TRAIN_JOBS', subjects: ['nas.train.job'] },
} as const;

export const KV_BUCKETS = {
  /** FLOPs counts by architecture id and input size. */
  flopsCache: 'nas-flops-cache',
  /** Latency measurements by architecture id, input, batch and hardware class. */
  latencyCache: 'nas-latency-cache',
  /** Training results by job id: what makes a redelivered job come back without training again. */
  trainResults: 'nas-train-results',
} as const;

// ---- typed subjects ----------------------------------------------------------------------------
// The payloads are the messages of proto/nas/events/v1 (and the profiler's request/response), so a
// consumer in any language decodes them from the .proto files.

/** One search's journal entries; the journal stream keeps them for replay. */
export const journalEntry = defineSubject({
  subject: 'nas.search.journal.{searchId}',
  codec: protoCodec(events.JournalEntry),
  description: 'search created, candidates proposed and evaluated, state and stage changes',
});

/** Training jobs on the durable work queue. */
export const trainJob = defineSubject({
  subject: 'nas.train.job',
  codec: protoCodec(events.TrainJob),
  description: 'a candidate to train; any trainer takes it, acks on result',
});

/** A trainer's result for a job, addressed to the search that asked. */
export const trainJobResult = defineSubject({
  subject: 'nas.train.result.{searchId}',
  codec: protoCodec(events.TrainJobResult),
  description: 'the result of one training job',
});

/** Progress of a queued training job (core NATS, not journaled): what median early stopping reads. */
export const trainJobProgress = defineSubject({
  subject: 'nas.train.progress.{searchId}',
  codec: protoCodec(events.TrainJobProgress),
  description: 'validation AP of a job at an evaluation step',
});

/** Stop a queued training job (every trainer listens; the one running it stops). */
export const trainJobCancel = defineSubject({
  subject: 'nas.train.cancel',
  codec: protoCodec(events.TrainJobCancel),
  description: 'the job id to stop early, and why',
});

const profileRequestTokens = defineSubject({
  subject: 'nas.profile.request.{hardwareClass}',
  codec: protoCodec(profiler.ProfileRequest),
  description: 'reply: nas.profiler.v1.ProfileResponse',
});

/**
 * Request/reply to the profilers of one hardware class (a queue group per class). Its token is a
 * hardware-class id (`cpu.amd-epyc.2c-avx2-fma.wasm-simd-4.22`): `to`, `filter` and `match` take
 * and give class ids and map them to the subject token themselves (see hardwareClassToken).
 */
export const profileRequest: typeof profileRequestTokens = {
  ...profileRequestTokens,
  filter: (params = {}) =>
    profileRequestTokens.filter(params.hardwareClass === undefined ? {} : { hardwareClass: hardwareClassToken(params.hardwareClass) }),
  to: (params) => profileRequestTokens.to({ hardwareClass: hardwareClassToken(params.hardwareClass) }),
  match(subject) {
    const params = profileRequestTokens.match(subject);
    return params && { hardwareClass: hardwareClassFromToken(params.hardwareClass) };
  },
};

export const profileResponseCodec = protoCodec(profiler.ProfileResponse);

// A hardware-class id (`cpu.amd-epyc.2c-avx2-fma.wasm-simd-4.22`) is dot-separated, but a subject
// token cannot hold a dot. The class grammar never uses `_`, so dots become underscores: the map is
// one-to-one and reversible, and this is the only place that knows it.

/** Hardware-class ids: dot-separated parts of lower-case letters, digits and dashes. */
export const HARDWARE_CLASS_PATTERN = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*$/;
export const MAX_HARDWARE_CLASS_LENGTH = 200;

/** Why `hardwareClass` is not a valid class id, or undefined when it is. */
export function hardwareClassProblem(hardwareClass: string): string | undefined {
  if (hardwareClass === '') return 'required';
  if (hardwareClass.length > MAX_HARDWARE_CLASS_LENGTH) return `at most ${MAX_HARDWARE_CLASS_LENGTH} characters`;
  if (!HARDWARE_CLASS_PATTERN.test(hardwareClass)) {
    return `expected dot-separated parts of a-z, 0-9 and '-' (e.g. gpu.nvidia-t4-16gb.tfjs-node-gpu-4.22), got ${JSON.stringify(hardwareClass)}`;
  }
  return undefined;
}

/** The class id as one NATS subject token. Throws on a malformed id. */
export function hardwareClassToken(hardwareClass: string): string {
  const problem = hardwareClassProblem(hardwareClass);
  if (problem) throw new Error(`hardware class: ${problem}`);
  return hardwareClass.replaceAll('.', '_');
}

/** The inverse of hardwareClassToken. */
export function hardwareClassFromToken(token: string): string {
  return token.replaceAll('_', '.');
}

/** Where to send a ProfileRequest for `hardwareClass`: only that class's profilers listen there. */
export function profileRequestFor(hardwareClass: string) {
  return profileRequest.to({ hardwareClass });
}

/** The queue group of one class's profilers: each request is measured by one of them. */
export function profilerQueueGroup(hardwareClass: string): string {
  return `profilers-${hardwareClassToken(hardwareClass)}`;
}

/** A profiler's measurement (not a cache hit), for anyone keeping latency tables. */
export const latencyMeasured = defineSubject({
  subject: 'nas.profile.measured.{hardwareClass}',
  codec: protoCodec(events.LatencyMeasured),
  description: 'a latency a profiler measured (hardware class as its subject token)',
});
