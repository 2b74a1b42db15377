// The search pipeline's JetStream set-up, in one place because the controller and every trainer
// create it (whichever starts first): the journal stream (limits retention, file storage, kept for
// replay; de-duplication by Nats-Msg-Id over a window long enough for a restarted publisher to
// retry), the training work queue, and the trainers' durable consumer on it.
import { nanos } from 'nats';
import type { Bus } from './bus.js';
import { RetentionPolicy, StorageType } from 'nats';
import { STREAMS } from './subjects.js';

/** The durable consumer all trainers share: each job goes to one trainer at a time. */
export const TRAINERS_DURABLE = 'trainers';
/** Retried publishes with the same Nats-Msg-Id within this window are stored once. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export async function ensurePipelineStreams(bus: Bus): Promise<void> {
  await bus.ensureStream({
    ...STREAMS.journal,
    subjects: [...STREAMS.journal.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
  await bus.ensureStream({
    ...STREAMS.trainJobs,
    subjects: [...STREAMS.trainJobs.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
}

/**
 * The trainers' durable consumer. `ackWaitMs` is how long a job may go without an ack or a
 * progress heartbeat before JetStream gives it to another trainer (the one holding it is presumed dead).
 */
export async function ensureTrainersConsumer(bus: Bus, ackWaitMs: number): Promise<void> {
  await bus.ensureConsumer(STREAMS.trainJobs.name, {
    durable_name: TRAINERS_DURABLE,
    ack_wait: nanos(ackWaitMs),
    // A job that fails on every trainer is not retried forever.
    max_deliver: 20,
  });
}
