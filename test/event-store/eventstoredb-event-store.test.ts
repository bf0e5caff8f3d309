import { expect } from 'chai';
import { v7 as uuid } from 'uuid';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { EventStoreDbEventStore } from '../../event-store/eventstoredb/eventstoredb-event-store.js';
import type { NewEvent, RecordedEvent } from '../../event-store/event-store.port.js';
import { EventStoreDbGrpcDouble, type GrpcDoubleOptions } from './eventstoredb-grpc-double.js';
import { eventStoreContract } from './event-store.contract.js';

const DOUBLE = 'EventStoreDB adapter against the in-process gRPC double (not a real server)';

async function openAgainstDouble(options: GrpcDoubleOptions = {}) {
  const double = await EventStoreDbGrpcDouble.start(options);
  const store = new EventStoreDbEventStore(double.connectionString, { retryDelayMs: 50 });
  return { double, store, async cleanup() { await store.close(); await double.stop(); } };
}

eventStoreContract(DOUBLE, () => openAgainstDouble());

const realServer = process.env.EVENTSTORE_URL;
if (realServer) {
  eventStoreContract(`real EventStoreDB at ${realServer}`, async () => {
    const store = new EventStoreDbEventStore(realServer);
    return { store, cleanup: () => store.close() };
  });
}

function ev(type: string, data: Record<string, unknown> = {}): NewEvent {
  return { id: uuid(), type, data, metadata: { correlationId: 'corr-1' } };
}

async function until(probe: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe(DOUBLE, () => {
  let sut: Awaited<ReturnType<typeof openAgainstDouble>>;
  afterEach(async () => { await sut.cleanup(); });

  describe('a log holding system events among ours', () => {
    it('leaves them out of readAll, headPosition and subscriptions', async () => {
      sut = await openAgainstDouble();
      const { store, double } = sut;
      await store.append('order-1', [ev('OrderPlaced')], 'no_stream');
      double.recordSystemEvent('$stats-127.0.0.1:2113', '$statistics-collected');
      double.recordSystemEvent('$audit', 'Audited');
      const last = await store.append('order-2', [ev('OrderPlaced')], 'no_stream');
      double.recordSystemEvent('$stats-127.0.0.1:2113', '$statistics-collected');

      const all = await store.readAll({ maxCount: 3 });
      expect(all.map((e) => e.streamId)).to.deep.equal(['order-1', 'order-2']);
      expect(await store.headPosition()).to.equal(last.position);
      const seen: RecordedEvent[] = [];
      const sub = store.subscribe({ onEvents: async (batch) => { seen.push(...batch); } });
      try {
        await store.append('order-3', [ev('OrderPlaced')], 'no_stream');
        double.recordSystemEvent('$audit', 'Audited');
        await until(() => seen.length >= 3);
        await new Promise((r) => setTimeout(r, 50));
        expect(seen.map((e) => e.streamId)).to.deep.equal(['order-1', 'order-2', 'order-3']);
      } finally {
        await sub.stop();
      }
    });
  });

  describe('a subscription the server drops', () => {
    it('reports the error and resumes after the last delivered event, with no gap or repeat', async () => {
      sut = await openAgainstDouble();
      const { store, double } = sut;
      const seen: RecordedEvent[] = [];
      const errors: unknown[] = [];
      const sub = store.subscribe({ onEvents: async (b) => { seen.push(...b); }, onError: (err) => errors.push(err) });
      try {
        const first = [ev('A'), ev('B'), ev('C')];
        await store.append('dropped-1', first, 'no_stream');
        await until(() => seen.length === 3);
        double.dropSubscriptions();
        await until(() => errors.length > 0);
        const second = [ev('D'), ev('E')];
        await store.append('dropped-1', second, 2);
        await until(() => seen.length >= 5);
        await new Promise((r) => setTimeout(r, 100));
        expect(seen.map((e) => e.id)).to.deep.equal([...first, ...second].map((e) => e.id));
        expect(double.subscriptionStarts).to.deep.equal(['start', BigInt(seen[2].position)]);
      } finally {
        await sub.stop();
      }
    });
  });

  describe('a handler that fails', () => {
    it('gets the same events again after the error is reported', async () => {
      sut = await openAgainstDouble();
      const { store } = sut;
      const events = [ev('A'), ev('B'), ev('C')];
      await store.append('failing-1', events, 'no_stream');
      const delivered: RecordedEvent[] = [];
      const errors: unknown[] = [];
      let calls = 0;
      const sub = store.subscribe({
        onEvents: async (batch) => {
          if (calls++ === 0) throw new Error('handler failed');
          delivered.push(...batch);
        },
        onError: (err) => errors.push(err),
      });
      try {
        await until(() => delivered.length >= 3);
        expect((errors[0] as Error).message).to.equal('handler failed');
        expect(delivered.map((e) => e.id)).to.deep.equal(events.map((e) => e.id));
      } finally {
        await sub.stop();
      }
    });
  });

  describe('a slow handler', () => {
    it('gets batches of at most batchSize, one at a time, in log order', async () => {
      sut = await openAgainstDouble();
      const { store } = sut;
      const seen: RecordedEvent[] = [];
      const sizes: number[] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      const sub = store.subscribe({
        batchSize: 4,
        onEvents: async (batch) => {
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          sizes.push(batch.length);
          await new Promise((r) => setTimeout(r, 5));
          seen.push(...batch);
          inFlight--;
        },
      });
      try {
        for (let i = 0; i < 6; i++) await store.append(`slow-${i}`, [ev('A'), ev('B'), ev('C'), ev('D'), ev('E')], 'no_stream');
        await until(() => seen.length >= 30);
        expect(maxInFlight).to.equal(1);
        expect(Math.max(...sizes)).to.be.at.most(4);
        expect(sizes.some((n) => n > 1)).to.equal(true);
        const positions = seen.map((e) => e.position);
        expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
      } finally {
        await sub.stop();
      }
    });

    it('leaves the rest of the log on the server while it works (gRPC flow control)', async () => {
      sut = await openAgainstDouble();
      const { store, double } = sut;
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => { release = resolve; });
      let delivered = 0;
      const sub = store.subscribe({ batchSize: 10, onEvents: async (batch) => { await held; delivered += batch.length; } });
      try {
        const payload = 'x'.repeat(2000);
        for (let i = 0; i < 20; i++) {
          await store.append(`bulk-${i}`, Array.from({ length: 100 }, () => ev('Bulk', { payload })), 'no_stream');
        }
        await new Promise((r) => setTimeout(r, 200));
        expect(double.subscriptionEventsSent).to.be.lessThan(1000);
        release();
        await until(() => delivered === 2000, 10_000);
        expect(double.subscriptionEventsSent).to.equal(2000);
      } finally {
        release();
        await sub.stop();
      }
    });
  });

  describe('a subscription that is stopped', () => {
    it('ends its call on the server too', async () => {
      sut = await openAgainstDouble();
      const sub = sut.store.subscribe({ onEvents: async () => undefined });
      await until(() => sut.double.liveSubscriptions === 1);
      await sub.stop();
      await until(() => sut.double.liveSubscriptions === 0, 1000);
    });
  });

  describe('a server that answers an idempotent retry without a position', () => {
    it('still returns the original result', async () => {
      sut = await openAgainstDouble({ idempotentAppendsReportPosition: false });
      const events = [ev('A'), ev('B')];
      const first = await sut.store.append('retried-1', events, 'no_stream');
      const raw = EventStoreDBClient.connectionString(sut.double.connectionString);
      try {
        const replay = await raw.appendToStream('retried-1', events.map((e) => jsonEvent({ id: e.id, type: e.type, data: {} })), { expectedRevision: 'no_stream' });
        expect(replay.position).to.equal(undefined);
      } finally {
        await raw.dispose();
      }
      expect(await sut.store.append('retried-1', events, 'no_stream')).to.deep.equal(first);
    });
  });

  describe('a server that has gone away', () => {
    it('fails ping', async () => {
      sut = await openAgainstDouble();
      await sut.store.ping();
      await sut.double.stop();
      let failure: unknown;
      await sut.store.ping().catch((err) => { failure = err; });
      expect(failure).to.be.instanceOf(Error);
    });
  });

  describe('the gRPC double itself (not a real server)', () => {
    it('refuses to read $all from a position between two events, as EventStoreDB does', async () => {
      sut = await openAgainstDouble();
      const { position } = await sut.store.append('boundary-1', [ev('A')], 'no_stream');
      const raw = EventStoreDBClient.connectionString(sut.double.connectionString);
      try {
        let failure: unknown;
        const read = raw.readAll({ fromPosition: { commit: BigInt(position + 1), prepare: BigInt(position + 1) }, maxCount: 10 });
        try { for await (const _ of read) { /* drain */ } } catch (err) { failure = err; }
        expect(String(failure)).to.match(/invalid position/);
      } finally {
        await raw.dispose();
      }
    });
  });
});
