// The project's subjects, declared here and only here. Naming: `nas.<domain>.<event-or-verb>`,
// lower-case, dot-separated; a routing token goes last as a `{token}` (one NATS token, e.g. a
// hardware class `nvidia-t4`). Payloads are the event messages of proto/nas/<domain>/v1, wrapped
// with `protoCodec(Msg)` from @sm-nas/proto.
//
// Streams (see STREAMS below): the search journal is a limits-retention stream over the events, so
// a restarted controller replays it; training jobs are a work-queue stream that trainers consume
// through one durable, so each job is taken by exactly one trainer.

/** Subject names, usable before the event messages exist. */
export const SUBJECTS = {
  /** Controller -> all: a candidate was proposed (one trace per candidate). */
  candidateProposed: 'nas.candidate.proposed',
  /** A candidate's FLOPs/params were counted. */
  candidateCounted: 'nas.candidate.counted',
  /** A candidate's latency was measured on a hardware class. */
  candidateProfiled: 'nas.candidate.profiled',
  /** A candidate was trained and evaluated. */
  candidateTrained: 'nas.candidate.trained',
  /** Search lifecycle: created, stage changed, finished, stopped. */
  searchEvent: 'nas.search.event',
  /** Request/reply to the profilers of one hardware class (queue group per class). */
  profileRequest: 'nas.profile.request.{hardwareClass}',
  /** Training jobs, a JetStream work queue. */
  trainJob: 'nas.train.job',
} as const;

export const STREAMS = {
  /** The search journal: every `nas.candidate.*` and `nas.search.*` event. */
  journal: { name: 'NAS_JOURNAL', subjects: ['nas.candidate.>', 'nas.search.>'] },
  /** Training jobs, work-queue retention: each job is removed once a trainer acks it. */
  trainJobs: { name: 'NAS_TRAIN_JOBS', subjects: ['nas.train.job'] },
} as const;

export const KV_BUCKETS = {
  /** FLOPs counts by architecture id and input size. */
  flopsCache: 'nas-flops-cache',
  /** Latency measurements by architecture id, input, batch and hardware class. */
  latencyCache: 'nas-latency-cache',
} as const;

// ---- typed subjects ----------------------------------------------------------------------------
// To be declared once the event messages exist in @sm-nas/proto, e.g.:
//
//   import { CandidateProposed, ProfileRequest } from '@sm-nas/proto';
//   export const candidateProposed = defineSubject({
//     subject: SUBJECTS.candidateProposed,
//     codec: protoCodec(CandidateProposed),
//   });
//   export const profileRequest = defineSubject({
//     subject: SUBJECTS.profileRequest,
//     codec: protoCodec(ProfileRequest),
//   });
//   // publish: bus.request(profileRequest.to({ hardwareClass: 'nvidia-t4' }), req, { reply: protoCodec(LatencyStats) })
//   // serve:   bus.serve(profileRequest, protoCodec(LatencyStats), handler, { params: { hardwareClass }, queue: `profiler-${hardwareClass}` })
//
// (libs/bus then gains a dependency on @sm-nas/proto.)
