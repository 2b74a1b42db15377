// The project's typed subjects carry the proto event messages through a real nats-server: what a
// controller journals is what a replaying controller (or a client in another language) decodes.
import { common, controller } from '@sm-nas/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './__fixtures__/tracing.js';
import { connectBus, journalEntry, STREAMS, type Bus } from './index.js';
import { startNatsServer, type NatsServer } from './testing/index.js';

const quiet = { info: () => {}, error: () => {} };

describe('typed subjects of the project', () => {
  let server: NatsServer;
  let bus: Bus;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    bus = await connectBus({ servers: server.url, name: 'subjects-test', logger: quiet });
  });
  afterAll(async () => {
    await bus?.close();
    await server?.stop();
  });

  it('journals a proposed candidate and replays it from the journal stream', async () => {
    await bus.ensureStream({ ...STREAMS.journal, subjects: [...STREAMS.journal.subjects] });
    await bus.ensureConsumer(STREAMS.journal.name, { durable_name: 'replay', filter_subject: journalEntry.filter({ searchId: 's-1' }) });
    const candidate: controller.Candidate = {
      ...controller.Candidate.fromPartial({}),
      candidateId: 'c-1',
      searchId: 's-1',
      stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL,
      parentIds: ['c-0'],
      origin: 'mutate',
    };
    await bus.publishDurable(journalEntry.to({ searchId: 's-1' }), {
      searchId: 's-1',
      entry: { $case: 'candidateProposed', value: candidate },
      reason: '',
    });
    await bus.publishDurable(journalEntry.to({ searchId: 's-2' }), { searchId: 's-2', entry: undefined, reason: '' });

    const seen: string[] = [];
    const consumption = await bus.consume(STREAMS.journal.name, 'replay', journalEntry, (entry) => {
      if (entry.entry?.$case === 'candidateProposed') seen.push(`${entry.searchId}/${entry.entry.value.candidateId}/${entry.entry.value.origin}`);
      else seen.push(`${entry.searchId}/other`);
    });
    await eventually(() => seen.length >= 1);
    // Everything the consumer may see has been delivered and acked.
    await eventually(async () => {
      const info = await bus.jsm.consumers.info(STREAMS.journal.name, 'replay');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
    await consumption.stop();
    // Only search s-1's entry passes the consumer's filter.
    expect(seen).toEqual(['s-1/c-1/mutate']);
  });
});
