import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { AppendResult, EventStore, ExpectedRevision, NewEvent, RecordedEvent } from '../../event-store/event-store.port.js';
import { ConcurrencyError, ConflictError } from '../../platform/errors.js';
import { CommandHandler } from '../../write-side/command-handler.js';
import { stockDecider, stockStream } from '../../write-side/inventory/stock.decider.js';
import { meta } from '../support/given-when-then.js';

/** An in-memory store with the port's append semantics, counting reads. */
class MemoryStore implements Partial<EventStore> {
  streams = new Map<string, RecordedEvent[]>();
  reads = 0;
  position = 0;
  async append(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const stream = this.streams.get(streamId) ?? [];
    const current = stream.length - 1;
    const ok = expected === 'any' || (expected === 'no_stream' ? current === -1 : expected === 'stream_exists' ? current >= 0 : expected === current);
    if (!ok) throw new ConcurrencyError(streamId, String(expected), String(current));
    for (const e of events) stream.push({ ...e, streamId, revision: stream.length, position: ++this.position, recordedAt: new Date() });
    this.streams.set(streamId, stream);
    return { revision: stream.length - 1, position: this.position };
  }
  async readStream(streamId: string, options: { fromRevision?: number } = {}): Promise<RecordedEvent[]> {
    this.reads++;
    return (this.streams.get(streamId) ?? []).slice(options.fromRevision ?? 0);
  }
  /** Another process appends behind this handler's back. */
  sneak(streamId: string, type: string, data: unknown): Promise<AppendResult> {
    return MemoryStore.prototype.append.call(this, streamId, [{ id: randomUUID(), type, data, metadata: {} }], 'any');
  }
}

const key = { sku: 'SKU-1', locationId: 'wh-1' };
const stream = stockStream(key.sku, key.locationId);

describe('command handler', () => {
  let store: MemoryStore;
  let handler: CommandHandler<any, any, any>;
  beforeEach(() => {
    store = new MemoryStore();
    handler = new CommandHandler(store as unknown as EventStore, stockDecider);
  });

  it('appends the decided events and returns the new state, revision and position', async () => {
    const r = await handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 5 }, metadata: meta() });
    expect(r.state).to.include({ onHand: 5, reserved: 0 });
    expect(r.revision).to.equal(0);
    expect(r.position).to.equal(1);
    const [recorded] = store.streams.get(stream)!;
    expect(recorded.metadata).to.deep.equal({ correlationId: 'corr', actor: { kind: 'api', role: 'admin' } });
  });

  it('decides on cached state without reading, and re-decides when another writer got there first', async () => {
    await handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 5 }, metadata: meta() });
    const readsBefore = store.reads;
    await handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 1 }, metadata: meta() });
    expect(store.reads).to.equal(readsBefore);
    await store.sneak(stream, 'StockReceived', { ...key, quantity: 10, at: 'x' });
    const r = await handler.handle(stream, { type: 'AdjustStock', data: { ...key, delta: -2, reason: 'damaged' }, metadata: meta() });
    expect(r.state.onHand).to.equal(14);
    expect(store.streams.get(stream)!.map((e) => e.type)).to.deep.equal(['StockReceived', 'StockReceived', 'StockReceived', 'StockAdjusted']);
  });

  it('does not refuse on stale cached state: it reads and decides again first', async () => {
    await handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 1 }, metadata: meta() });
    await store.sneak(stream, 'StockReceived', { ...key, quantity: 10, at: 'x' });
    // On the cached state (1 on hand) this adjustment would be refused; on the stream's (11) it is fine.
    const r = await handler.handle(stream, { type: 'AdjustStock', data: { ...key, delta: -5, reason: 'count' }, metadata: meta() });
    expect(r.state.onHand).to.equal(6);
  });

  it('still refuses what the current state refuses', async () => {
    await handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 1 }, metadata: meta() });
    let err: unknown;
    await handler.handle(stream, { type: 'AdjustStock', data: { ...key, delta: -5, reason: 'count' }, metadata: meta() }).catch((e) => { err = e; });
    expect(err).to.be.instanceOf(ConflictError);
  });

  it('answers a load that accepts a recent state from what it knew within that age, and reads once it is older', async () => {
    let clock = 1_000;
    handler = new CommandHandler(store as unknown as EventStore, stockDecider, { now: () => clock });
    await handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 2 }, metadata: meta() });
    await store.sneak(stream, 'StockReceived', { ...key, quantity: 10, at: 'x' });
    const readsBefore = store.reads;
    clock += 1_000;
    expect((await handler.load(stream, { maxAgeMs: 1_000 })).state.onHand).to.equal(2);
    expect(store.reads).to.equal(readsBefore);
    clock += 1;
    const [a, b] = await Promise.all([handler.load(stream, { maxAgeMs: 1_000 }), handler.load(stream, { maxAgeMs: 1_000 })]);
    expect([a.state.onHand, b.state.onHand]).to.deep.equal([12, 12]);
    expect(store.reads).to.equal(readsBefore + 1);                   // the two shared one read
    // A read that finds nothing new also counts as seeing the state current.
    clock += 5_000;
    await handler.load(stream);
    expect((await handler.load(stream, { maxAgeMs: 1_000 })).state.onHand).to.equal(12);
    expect(store.reads).to.equal(readsBefore + 2);
  });

  it('keeps what it appended while a read was on its way, rather than the older state the read found', async () => {
    await handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 2 }, metadata: meta() });
    await store.sneak(stream, 'StockReceived', { ...key, quantity: 10, at: 'x' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const readStream = store.readStream.bind(store);
    store.readStream = async (id, options) => { const events = await readStream(id, options); await gate; return events; };
    const slow = handler.load(stream);                                 // finds 12 on hand, and is held
    store.readStream = readStream;
    // Meanwhile this process adjusts the ledger (its cached 2 is stale: it reads, decides on 12, appends).
    const adjusted = await handler.handle(stream, { type: 'AdjustStock', data: { ...key, delta: -3, reason: 'count' }, metadata: meta() });
    expect(adjusted.state.onHand).to.equal(9);
    release();
    expect((await slow).state.onHand).to.equal(9);
    expect((await handler.load(stream, { cachedOk: true })).state.onHand).to.equal(9);
  });

  it('decides the commands queued on a stream together and appends them as one, each with its own outcome', async () => {
    await handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 3 }, metadata: meta() });
    const original = store.append.bind(store);
    const appended: number[] = [];
    store.append = async (s, e, x) => { appended.push(e.length); return original(s, e, x); };
    const reserve = (orderId: string, quantity: number) => handler.handle(stream, { type: 'ReserveStock', data: { ...key, orderId, quantity }, metadata: meta() });
    const [first, tooMany, third, again] = await Promise.allSettled([reserve('o-1', 1), reserve('o-2', 5), reserve('o-3', 2), reserve('o-1', 1)]);
    expect(appended).to.deep.equal([2]);
    expect(first.status === 'fulfilled' && first.value).to.deep.include({ revision: 1, position: 3 });
    expect(tooMany.status === 'rejected' && (tooMany.reason as ConflictError).code).to.equal('stock.insufficient');
    expect(third.status === 'fulfilled' && third.value).to.deep.include({ revision: 2, position: 3 });
    expect(third.status === 'fulfilled' && third.value.state).to.include({ reserved: 3 });
    expect(again.status === 'fulfilled' && again.value.events).to.deep.equal([]);
    expect(store.streams.get(stream)!.map((e) => (e.data as { orderId?: string }).orderId)).to.deep.equal([undefined, 'o-1', 'o-3']);
  });

  it('takes the queued commands of a stream in turns while its append is on the way', async () => {
    const original = store.append.bind(store);
    const appended: number[] = [];
    store.append = async (s, e, x) => { appended.push(e.length); await new Promise((r) => setTimeout(r, 5)); return original(s, e, x); };
    const receive = () => handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 1 }, metadata: meta() });
    const firstTurn = receive();
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    const later = [receive(), receive(), receive()];
    const results = await Promise.all([firstTurn, ...later]);
    expect(appended).to.deep.equal([1, 3]);
    expect(results.map((r) => r.state.onHand)).to.deep.equal([1, 2, 3, 4]);
  });

  it('appends the commands of a group one by one when the store refuses their append, so only the bad one fails', async () => {
    const original = store.append.bind(store);
    const appended: number[] = [];
    store.append = async (s, e, x) => {
      appended.push(e.length);
      if (e.some((ev) => (ev.data as { quantity?: number }).quantity === 13)) throw new Error('the store refuses this data');
      return original(s, e, x);
    };
    const receive = (quantity: number) => handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity }, metadata: meta() });
    const [one, bad, two] = await Promise.allSettled([receive(1), receive(13), receive(2)]);
    expect(appended).to.deep.equal([3, 1, 1, 1]);
    expect(one.status).to.equal('fulfilled');
    expect(bad.status === 'rejected' && (bad.reason as Error).message).to.equal('the store refuses this data');
    expect(two.status === 'fulfilled' && two.value.state.onHand).to.equal(3);
  });

  it('appends a command with an idempotency seed on its own, so a keyed replay is recognised as one', async () => {
    const original = store.append.bind(store);
    const appended: number[] = [];
    store.append = async (s, e, x) => { appended.push(e.length); return original(s, e, x); };
    const receive = (quantity: number, idempotencySeed?: string) => handler.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity }, metadata: { ...meta(), idempotencySeed } });
    await Promise.all([receive(1), receive(2), receive(3, 'key-1'), receive(4), receive(5)]);
    expect(appended).to.deep.equal([2, 1, 2]);
  });

  it('gives up with the concurrency error after its retries', async () => {
    const stubborn = new CommandHandler(store as unknown as EventStore, stockDecider, { retries: 2 });
    const original = store.append.bind(store);
    let attempts = 0;
    store.append = async (s, e, x) => { attempts++; await store.sneak(s, 'StockReceived', { ...key, quantity: 1, at: 'x' }); return original(s, e, x); };
    let err: unknown;
    await stubborn.handle(stream, { type: 'ReceiveStock', data: { ...key, quantity: 1 }, metadata: meta() }).catch((e) => { err = e; });
    expect(err).to.be.instanceOf(ConcurrencyError);
    expect(attempts).to.equal(3);
  });
});
