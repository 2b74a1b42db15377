// The journal on a real nats-server (JetStream): appends come back through `follow` before they
// resolve, a message id is stored once however often it is sent, a second journal (a restarted
// controller) replays everything in order before `follow` resolves, and a purged search is gone.
import { connectBus, STREAMS, trainJobResult, type Bus } from '@sm-nas/bus';
import { startNatsServer, type NatsServer } from '@sm-nas/bus/testing';
import { controller, events, trainer } from '@sm-nas/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal, type JournalHandlers } from './journal.js';

const quiet = { info: () => {}, error: () => {} };

function recorder() {
  const seen: string[] = [];
  const handlers: JournalHandlers = {
    entry: (e, seq) => void seen.push(`${seq}:${e.searchId}:${e.entry?.$case ?? 'none'}`),
    trainResult: (r, seq) => void seen.push(`${seq}:${r.searchId}:result:${r.candidateId}`),
  };
  return { seen, handlers };
}

const proposed = (searchId: string, candidateId: string): events.JournalEntry => ({
  searchId, reason: '', entry: { $case: 'candidateProposed', value: controller.Candidate.fromPartial({ searchId, candidateId }) },
});

describe('the journal', () => {
  let server: NatsServer;
  let bus: Bus;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    bus = await connectBus({ servers: server.url, name: 'journal-test', logger: quiet });
    await bus.ensureStream({ ...STREAMS.journal, subjects: [...STREAMS.journal.subjects] });
  }, 30_000);
  afterAll(async () => {
    await bus?.close();
    await server?.stop();
  });

  it('applies an append before it resolves, stores a message id once, and replays all of it after a restart', async () => {
    const first = recorder();
    const journal = new Journal(bus, quiet);
    await journal.follow(first.handlers);
    const s1 = await journal.append(proposed('s1', 'c1'), 's1.c1');
    expect(first.seen).toEqual([`${s1}:s1:candidateProposed`]);
    // The same message id again (a retried append): the stream keeps one, the same sequence.
    expect(await journal.append(proposed('s1', 'c1'), 's1.c1')).toBe(s1);
    const s2 = await journal.append(proposed('s2', 'c1'), 's2.c1');
    await bus.publishDurable(trainJobResult.to({ searchId: 's1' }), events.TrainJobResult.fromPartial({ searchId: 's1', candidateId: 'c1', result: trainer.TrainResult.fromPartial({}) }));
    const s3 = await journal.append(proposed('s1', 'c2'), 's1.c2');
    expect(first.seen).toHaveLength(4);
    await journal.close();
    await expect(journal.append(proposed('s1', 'c3'), 's1.c3')).rejects.toThrow(/journal closed/);

    // A restarted controller: everything, in stream order, before follow resolves.
    const second = recorder();
    const again = new Journal(bus, quiet);
    await again.follow(second.handlers);
    expect(second.seen).toEqual(first.seen);
    expect(second.seen.map((x) => Number(x.split(':')[0]))).toEqual([s1, s2, s2 + 1, s3]);
    await again.close();
  });

  it('purges one search, and a replay after a purge of the last entries still ends', async () => {
    const journal = new Journal(bus, quiet);
    await journal.follow(recorder().handlers);
    await journal.append(proposed('gone', 'c1'), 'gone.c1');
    await journal.purge('gone');
    await journal.purge('s1');
    await journal.close();
    const after = recorder();
    const replay = new Journal(bus, quiet);
    await replay.follow(after.handlers);
    expect(after.seen.every((x) => x.split(':')[1] === 's2')).toBe(true);
    expect(after.seen).toHaveLength(1);
    await replay.close();
  }, 20_000);
});
