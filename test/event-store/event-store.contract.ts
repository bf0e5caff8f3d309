import { expect } from 'chai';
import { v7 as uuid } from 'uuid';
import type { EventStore, NewEvent, RecordedEvent } from '../../event-store/event-store.port.js';
import { ConcurrencyError } from '../../platform/errors.js';

export interface StoreUnderTest { store: EventStore; cleanup(): Promise<void> }

function ev(type: string, data: Record<string, unknown> = {}): NewEvent {
  return { id: uuid(), type, data, metadata: { correlationId: 'corr-1', causationId: 'cause-1', actor: { kind: 'api', role: 'admin' } } };
}

function streamName(prefix = 'contract'): string {
  return `${prefix}-${uuid()}`;
}

async function until<T>(probe: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The behaviour every event store adapter promises. */
export function eventStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`event store contract: ${name}`, function () {
    let sut: StoreUnderTest;
    let store: EventStore;
    beforeEach(async () => { sut = await open(); store = sut.store; });
    afterEach(async () => { await sut.cleanup(); });

    describe('appending to a new stream', () => {
      it('records events with revisions from 0, increasing positions, data and metadata', async () => {
        const s = streamName();
        const events = [ev('ThingHappened', { n: 1, nested: { a: [1, 2] } }), ev('ThingHappened', { n: 2 })];
        const result = await store.append(s, events, 'no_stream');
        expect(result.revision).to.equal(1);
        const read = await store.readStream(s);
        expect(read.map((e) => e.revision)).to.deep.equal([0, 1]);
        expect(read.map((e) => e.id)).to.deep.equal(events.map((e) => e.id));
        expect(read[0].data).to.deep.equal({ n: 1, nested: { a: [1, 2] } });
        expect(read[0].metadata).to.include({ correlationId: 'corr-1', causationId: 'cause-1' });
        expect(read[0].metadata.actor).to.deep.equal({ kind: 'api', role: 'admin' });
        expect(read[0].type).to.equal('ThingHappened');
        expect(read[0].streamId).to.equal(s);
        expect(read[0].recordedAt).to.be.instanceOf(Date);
        expect(read[1].position).to.be.greaterThan(read[0].position);
        expect(result.position).to.equal(read[1].position);
      });

      it('refuses stream_exists on a stream that does not exist', async () => {
        await expectConcurrency(store.append(streamName(), [ev('A')], 'stream_exists'));
      });

      it('accepts any on a stream that does not exist', async () => {
        const r = await store.append(streamName(), [ev('A')], 'any');
        expect(r.revision).to.equal(0);
      });

      it('reads a missing stream as empty', async () => {
        expect(await store.readStream(streamName())).to.deep.equal([]);
      });
    });

    describe('appending to an existing stream', () => {
      let s: string;
      beforeEach(async () => {
        s = streamName();
        await store.append(s, [ev('A'), ev('B')], 'no_stream');
      });

      it('refuses no_stream with a typed concurrency error', async () => {
        await expectConcurrency(store.append(s, [ev('C')], 'no_stream'));
      });

      it('refuses a stale exact revision and accepts the current one', async () => {
        await expectConcurrency(store.append(s, [ev('C')], 0));
        const r = await store.append(s, [ev('C')], 1);
        expect(r.revision).to.equal(2);
      });

      it('accepts any and stream_exists', async () => {
        expect((await store.append(s, [ev('C')], 'any')).revision).to.equal(2);
        expect((await store.append(s, [ev('D')], 'stream_exists')).revision).to.equal(3);
      });

      it('reads from a revision with a maximum count', async () => {
        await store.append(s, [ev('C'), ev('D')], 1);
        const read = await store.readStream(s, { fromRevision: 1, maxCount: 2 });
        expect(read.map((e) => e.type)).to.deep.equal(['B', 'C']);
      });
    });

    describe('appending the same event ids again', () => {
      it('does not duplicate them and returns the original result', async () => {
        const s = streamName();
        const events = [ev('A'), ev('B')];
        const first = await store.append(s, events, 'no_stream');
        const again = await store.append(s, events, 'no_stream');
        expect(again).to.deep.equal(first);
        expect(await store.readStream(s)).to.have.length(2);
      });
    });

    describe('concurrent writers', () => {
      it('lets exactly one of many appends at the same expected revision win', async () => {
        const s = streamName();
        await store.append(s, [ev('Opened')], 'no_stream');
        const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => store.append(s, [ev('Raced')], 0)));
        expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
        const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(failures).to.have.length(19);
        for (const f of failures) expect(f.reason).to.be.instanceOf(ConcurrencyError);
        expect(await store.readStream(s)).to.have.length(2);
      });

      it('gives each of many concurrent appends its own outcome', async () => {
        const streams = Array.from({ length: 60 }, () => streamName());
        await Promise.all(streams.slice(0, 30).map((s) => store.append(s, [ev('Seed')], 'no_stream')));
        // First 30 streams exist: no_stream must fail there and succeed on the other 30.
        const outcomes = await Promise.allSettled(streams.map((s) => store.append(s, [ev('Next')], 'no_stream')));
        outcomes.forEach((o, i) => {
          if (i < 30) expect(o.status, `stream ${i}`).to.equal('rejected');
          else expect(o.status, `stream ${i}`).to.equal('fulfilled');
        });
      });
    });

    describe('reading the whole log', () => {
      it('reads strictly after a position, in order, up to a maximum count', async () => {
        const s = streamName();
        const start = await store.headPosition();
        await store.append(s, [ev('A'), ev('B'), ev('C')], 'no_stream');
        const mine = (await store.readAll({ after: start, maxCount: 1000 })).filter((e) => e.streamId === s);
        expect(mine.map((e) => e.type)).to.deep.equal(['A', 'B', 'C']);
        const afterFirst = (await store.readAll({ after: mine[0].position, maxCount: 2 }));
        expect(afterFirst.map((e) => e.id)).to.deep.equal([mine[1].id, mine[2].id]);
        expect(await store.headPosition()).to.equal(mine[2].position);
      });
    });

    describe('subscribing', () => {
      it('delivers events after the checkpoint (exclusive), then live ones, in order', async () => {
        const s = streamName();
        await store.append(s, [ev('Before1'), ev('Before2')], 'no_stream');
        const existing = (await store.readAll({ after: 0, maxCount: 100_000 })).filter((e) => e.streamId === s);
        const seen: RecordedEvent[] = [];
        const sub = store.subscribe({ after: existing[0].position, onEvents: async (batch) => { seen.push(...batch); } });
        try {
          await store.append(s, [ev('Live1')], 1);
          await store.append(s, [ev('Live2')], 2);
          await until(() => (seen.filter((e) => e.streamId === s).length >= 3 ? true : undefined));
          const mine = seen.filter((e) => e.streamId === s);
          expect(mine.map((e) => e.type)).to.deep.equal(['Before2', 'Live1', 'Live2']);
          const positions = seen.map((e) => e.position);
          expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
        } finally {
          await sub.stop();
        }
      });

      it('misses nothing while many writers append concurrently', async () => {
        const start = await store.headPosition();
        const seen: RecordedEvent[] = [];
        const sub = store.subscribe({ after: start, batchSize: 7, onEvents: async (batch) => { seen.push(...batch); } });
        try {
          const streams = Array.from({ length: 40 }, () => streamName('burst'));
          await Promise.all(streams.map(async (s) => {
            for (let i = 0; i < 5; i++) await store.append(s, [ev('Burst', { i })], i === 0 ? 'no_stream' : i - 1);
          }));
          await until(() => (seen.filter((e) => e.type === 'Burst').length >= 200 ? true : undefined), 10_000);
          const burst = seen.filter((e) => e.type === 'Burst');
          expect(new Set(burst.map((e) => e.id)).size).to.equal(200);
          const positions = seen.map((e) => e.position);
          expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
        } finally {
          await sub.stop();
        }
      });

      it('stops promptly when asked', async () => {
        const sub = store.subscribe({ after: await store.headPosition(), onEvents: async () => undefined });
        const t = Date.now();
        await sub.stop();
        expect(Date.now() - t).to.be.lessThan(1000);
      });
    });
  });
}

async function expectConcurrency(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(ConcurrencyError);
    return;
  }
  expect.fail('expected a ConcurrencyError');
}
