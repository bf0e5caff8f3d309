import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../event-store/event-store.port.js';
import { createLogger } from '../../platform/logger.js';
import { ordersProjection } from '../../projections/orders.projection.js';
import { ProjectionRunner } from '../../projections/projection-runner.js';
import { CommandHandler } from '../../write-side/command-handler.js';
import type { DomainEvent } from '../../write-side/decider.js';
import { orderDecider, orderStream } from '../../write-side/orders/order.decider.js';
import type { FraudDecision, PlacedOrder } from '../../write-side/orders/order.events.js';
import { createToDomain, toDomain, type Upcasters } from '../../write-side/to-domain.js';
import { eventually } from '../support/service-harness.js';
import { meta, NOW } from '../support/given-when-then.js';
import { eventStoreWorld, readModelWorld } from '../support/world.js';
import { anOrder } from './order.decider.test.js';

/** An older version of FraudAssessed, stored under a name of its own: a verdict, no reasons. */
interface FraudScoredV0 { orderId: string; score: number; verdict: 'pass' | 'hold' | 'block'; at: string }

const VERDICTS: Record<FraudScoredV0['verdict'], FraudDecision> = { pass: 'approve', hold: 'review', block: 'reject' };
const upcasters: Upcasters = {
  FraudScored: (e) => {
    const { orderId, score, verdict, at } = e.data as FraudScoredV0;
    return { type: 'FraudAssessed', data: { orderId, score, decision: VERDICTS[verdict], reasons: [], at } };
  },
};

const stored = (type: string, data: unknown, position = 1): RecordedEvent =>
  ({ id: randomUUID(), type, data, metadata: {}, streamId: 's', revision: 0, position, recordedAt: new Date() });

describe('stored events to domain events', () => {
  it('hands on a stored event of a current type as it is', () => {
    const e = stored('OrderCancelled', { orderId: 'o-1', reason: 'x', at: NOW });
    expect(toDomain(e)).to.equal(e);
    expect(createToDomain(upcasters)(e)).to.equal(e);
  });

  it('turns an old version into the current event, keeping its envelope', () => {
    const e = stored('FraudScored', { orderId: 'o-1', score: 70, verdict: 'hold', at: NOW }, 42);
    expect(createToDomain(upcasters)(e)).to.deep.equal({
      ...e, type: 'FraudAssessed', data: { orderId: 'o-1', score: 70, decision: 'review', reasons: [], at: NOW },
    });
  });

  it('runs a chain of upcasters in turn, each once, so one that keeps its type ends the chain', () => {
    const chain: Upcasters = {
      V1: (e) => ({ type: 'V2', data: { ...(e.data as object), v2: true } }),
      V2: (e) => ({ type: 'V2', data: { ...(e.data as object), reshaped: true } }),
    };
    const e = createToDomain(chain)(stored('V1', { v1: true }));
    expect({ type: e.type, data: e.data }).to.deep.equal({ type: 'V2', data: { v1: true, v2: true, reshaped: true } });
  });

  it('reads a re-allocation stored before backorders and give-back ids: nothing backordered, its cause event from the metadata', () => {
    const data = {
      orderId: 'o-1', released: [{ locationId: 'wh-1', lines: [{ sku: 'A', quantity: 1 }] }], allocations: [{ locationId: 'wh-2', lines: [{ sku: 'A', quantity: 1 }] }],
      transfers: [], allocationSeq: 1, cost: 3, why: 'next best', candidates: [], cause: 'rejected', at: NOW,
    };
    const old = { ...stored('OrderReallocated', data), metadata: { causationId: 'e-reject-1', correlationId: 'o-1' } };
    expect(toDomain(old)).to.deep.equal({ ...old, data: { ...data, backordered: [], causeEventId: 'e-reject-1' } });
    expect(toDomain(stored('OrderReallocated', data)).data).to.deep.equal({ ...data, backordered: [] });
    const current = stored('OrderReallocated', { ...data, backordered: [], fulfilmentId: 'f-1', causeEventId: 'e-reject-1' });
    expect(toDomain(current)).to.deep.equal(current);
  });

  describe('an order whose fraud result was stored in the old version', function () {
    this.timeout(30_000);
    let world: Awaited<ReturnType<typeof eventStoreWorld>>;
    /** An order placed, then scored in the old version: on hold once upcast. */
    const oldOrder = async (orderId: string) => {
      const placed: PlacedOrder = { ...anOrder, orderId, total: 4498, placedAt: NOW };
      const events: DomainEvent[] = [
        { type: 'OrderPlaced', data: placed },
        { type: 'FraudScored', data: { orderId, score: 70, verdict: 'hold', at: NOW } satisfies FraudScoredV0 },
      ];
      await world.store.append(orderStream(orderId), events.map((e) => ({ id: randomUUID(), ...e, metadata: {} })), 'no_stream');
    };

    before(async () => { world = await eventStoreWorld(); });
    after(async () => { await world.cleanup(); });

    it('is folded by the command handler as the current event: on hold, and then reviewed', async () => {
      const orderId = 'o-old-1';
      await oldOrder(orderId);
      const withoutUpcaster = await new CommandHandler(world.store, orderDecider).load(orderStream(orderId));
      expect(withoutUpcaster.state.status).to.equal('received');

      const handler = new CommandHandler(world.store, orderDecider, { toDomain: createToDomain(upcasters) });
      const loaded = await handler.load(orderStream(orderId));
      expect(loaded.state).to.deep.include({ status: 'on_hold', fraud: { score: 70, decision: 'review', reasons: [] } });
      const r = await handler.handle(orderStream(orderId), { type: 'ReviewOrder', data: { orderId, decision: 'approve', reviewer: 'op-1' }, metadata: meta() });
      expect(r.events).to.deep.equal([{ type: 'OrderReviewed', data: { orderId, decision: 'approve', reviewer: 'op-1', at: NOW } }]);
      expect(r.state.status).to.equal('received');
    });

    it('reaches the orders projection as the current event: the order is on hold', async () => {
      const orderId = 'o-old-2';
      await oldOrder(orderId);
      const rm = await readModelWorld();
      try {
        const runner = new ProjectionRunner(world.store, rm.knex, ordersProjection, createLogger('silent'), { toDomain: createToDomain(upcasters) });
        await runner.start();
        const head = await world.store.headPosition();
        const row = await eventually(async () => (runner.position >= head ? rm.knex('orders').where({ order_id: orderId }).first() : undefined));
        await runner.stop();
        expect(row).to.deep.include({ status: 'on_hold', fraud: { score: 70, decision: 'review', reasons: [] } });
        const timeline = await rm.knex('order_timeline').where({ order_id: orderId }).orderBy('position').pluck('type');
        expect(timeline).to.deep.equal(['OrderPlaced', 'FraudAssessed']);
        expect(await rm.knex('projection_failures').count('* as n').first()).to.deep.equal({ n: 0 });
      } finally {
        await rm.cleanup();
      }
    });
  });
});
