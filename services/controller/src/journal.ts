// The journal: the JetStream stream NAS_JOURNAL read from its first message by an ordered consumer
// (replay, then live), and appended to with de-duplicating message ids. Everything the controller
// knows comes back through `follow`, including its own appends, so the state after a restart is the
// state before it. A publish that fails while nats-server is away is retried until it is stored;
// one nats-server refuses for what it is (larger than max_payload, say) fails at once.
import { journalEntry, retryOverBus, STREAMS, trainJobResult, type Bus, type BusLogger } from '@sm-nas/bus';
import type { events } from '@sm-nas/proto';
import type { ConsumerMessages } from 'nats';

export interface JournalHandlers {
  entry(entry: events.JournalEntry, sequence: number, time: Date): void;
  trainResult(result: events.TrainJobResult, sequence: number, time: Date): void;
}

export class Journal {
  private applied = 0;
  private waiters: { sequence: number; resolve: () => void }[] = [];
  private messages: ConsumerMessages | undefined;
  private done: Promise<void> | undefined;
  private closed = false;
  /** Aborted on close: an append retrying while NATS is away gives up. */
  private readonly closing = new AbortController();

  constructor(
    private readonly bus: Bus,
    private readonly logger: BusLogger,
  ) {}

  /** Replays the stream into `handlers`, resolving once caught up with what it held at the call; then follows it live. */
  async follow(handlers: JournalHandlers): Promise<void> {
    const info = await this.bus.jsm.streams.info(STREAMS.journal.name);
    // Caught up once a message comes with nothing pending after it. Not "at last_seq": a purge
    // (DeleteSearch) may have removed that message, and a replay waiting for it never ends.
    let caughtUp!: () => void;
    const replayed = new Promise<void>((resolve) => (caughtUp = resolve));
    if (info.state.messages === 0) caughtUp();
    const consumer = await this.bus.js.consumers.get(STREAMS.journal.name);
    this.messages = await consumer.consume();
    const messages = this.messages;
    this.done = (async () => {
      for await (const msg of messages) {
        const time = new Date(Math.floor(msg.info.timestampNanos / 1e6));
        try {
          if (journalEntry.match(msg.subject)) handlers.entry(journalEntry.codec.decode(msg.data), msg.seq, time);
          else if (trainJobResult.match(msg.subject)) handlers.trainResult(trainJobResult.codec.decode(msg.data), msg.seq, time);
        } catch (err) {
          this.logger.error(`journal: message #${msg.seq} on ${msg.subject} not applied: ${err instanceof Error ? err.message : String(err)}`);
        }
        this.markApplied(msg.seq);
        if (msg.info.pending === 0) caughtUp();
      }
    })();
    await replayed;
  }

  private markApplied(sequence: number): void {
    this.applied = Math.max(this.applied, sequence);
    const ready = this.waiters.filter((w) => w.sequence <= this.applied);
    this.waiters = this.waiters.filter((w) => w.sequence > this.applied);
    for (const w of ready) w.resolve();
  }

  /** Resolves when the entry at `sequence` has been applied. */
  waitApplied(sequence: number): Promise<void> {
    if (sequence <= this.applied) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ sequence, resolve }));
  }

  /**
   * Appends an entry (stored once per `msgId`, however often retried) and resolves once it has been
   * applied. Retries while NATS is away (until it takes the entry, or the journal is closed); any
   * other failure is thrown.
   */
  async append(entry: events.JournalEntry, msgId: string): Promise<number> {
    if (this.closed) throw new Error('journal closed');
    return await retryOverBus(
      async () => {
        const ack = await this.bus.publishDurable(journalEntry.to({ searchId: entry.searchId }), entry, { msgId, timeoutMs: 5000 });
        await this.waitApplied(ack.seq);
        return ack.seq;
      },
      {
        signal: this.closing.signal,
        baseDelayMs: 100,
        maxDelayMs: 2000,
        onRetry: (err, attempt) => {
          if (attempt % 10 === 1) this.logger.error(`journal: append ${msgId} failed (${err instanceof Error ? err.message : String(err)}); retrying`);
        },
      },
    );
  }

  /** Drops a search's entries and training results from the stream (DeleteSearch, once its deletion is applied). */
  async purge(searchId: string): Promise<void> {
    for (const subject of [journalEntry.to({ searchId }).subject, trainJobResult.to({ searchId }).subject]) {
      await this.bus.jsm.streams.purge(STREAMS.journal.name, { filter: subject });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    await this.messages?.close();
    await this.done?.catch(() => {});
  }
}
