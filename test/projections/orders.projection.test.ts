import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { createKnex } from '../../platform/db.js';
import { migrate } from '../../platform/migrate.js';
import { schemaMigrations } from '../../platform/schema.migrations.js';
import { UnappliableEvent } from '../../projections/projection.js';
import { ordersProjection } from '../../projections/orders.projection.js';
import { addressKey, paymentFingerprint } from '../../read-side/orders.queries.js';
import { fold } from '../../write-side/decider.js';
import { orderDecider, orderStream } from '../../write-side/orders/order.decider.js';
import type { FraudDecision, OrderEvent, Payment, PlacedOrder } from '../../write-side/orders/order.events.js';
import type { PlacedState } from '../../write-side/orders/order.state.js';
import type { Recorded } from '../../write-side/to-domain.js';
import { NOW } from '../support/given-when-then.js';
import { isolatedSchema } from '../support/test-env.js';
import { readModelWorld } from '../support/world.js';
import { anOrder } from '../write-side/order.decider.test.js';

const at = (seconds: number) => new Date(Date.parse(NOW) + seconds * 1000).toISOString();
const card: Payment = { method: 'card', token: 'tok_ok' };
/** Why each location was or was not chosen, as sourcing records it. */
const REALLOCATION_CANDIDATES = [
  { locationId: 'wh-3', eligible: true, reason: 'can fill every line', distanceKm: 12, canFill: [{ sku: 'SKU-2', quantity: 1 }], cost: 300 },
  { locationId: 'wh-4', eligible: false, reason: 'at daily capacity: 40 of 40 fulfilments today', distanceKm: 3, canFill: [] },
];

/** The events of one order, each at its own second. */
function orderEvents(orderId: string) {
  return {
    placed: (payment: Payment = card): OrderEvent => ({
      type: 'OrderPlaced',
      data: { ...anOrder, orderId, customer: { id: 'c-42', email: 'Ana@Example.com' }, payment, total: 4498, placedAt: at(0) } satisfies PlacedOrder,
    }),
    assessed: (decision: FraudDecision, s: number): OrderEvent => ({
      type: 'FraudAssessed', data: { orderId, score: decision === 'approve' ? 10 : 70, decision, reasons: [{ code: 'new_customer', points: 10, detail: 'first order' }], at: at(s) },
    }),
    held: (s: number): OrderEvent => ({ type: 'OrderHeld', data: { orderId, reason: 'fraud score 70 needs a review', at: at(s) } }),
    reviewed: (decision: 'approve' | 'reject', s: number): OrderEvent => ({ type: 'OrderReviewed', data: { orderId, decision, note: 'called', reviewer: 'op-1', at: at(s) } }),
    allocated: (s: number): OrderEvent => ({
      type: 'OrderAllocated',
      data: {
        orderId, allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }, { locationId: 'wh-2', lines: [{ sku: 'SKU-2', quantity: 1 }] }],
        transfers: [{ from: 'wh-2', to: 'wh-1', lines: [{ sku: 'SKU-2', quantity: 1 }] }], cost: 700, why: 'cheapest', candidates: [], at: at(s),
      },
    }),
    backordered: (s: number): OrderEvent => ({ type: 'OrderBackordered', data: { orderId, missing: [{ sku: 'SKU-2', quantity: 1 }], why: 'no SKU-2 anywhere', candidates: [], at: at(s) } }),
    released: (s: number): OrderEvent => ({ type: 'OrderReleased', data: { orderId, at: at(s) } }),
    rejected: (cause: 'fraud' | 'review' | 'payment_declined', s: number): OrderEvent => ({ type: 'OrderRejected', data: { orderId, cause, detail: `rejected: ${cause}`, at: at(s) } }),
    cancelled: (s: number): OrderEvent => ({ type: 'OrderCancelled', data: { orderId, reason: 'changed my mind', at: at(s) } }),
    authorized: (s: number): OrderEvent => ({ type: 'PaymentAuthorized', data: { orderId, authorizationId: 'auth-1', amount: 4498, currency: 'USD', at: at(s) } }),
    declined: (s: number): OrderEvent => ({ type: 'PaymentDeclined', data: { orderId, code: 'card_declined', detail: 'The card was declined', at: at(s) } }),
    captured: (amount: number, s: number): OrderEvent => ({ type: 'PaymentCaptured', data: { orderId, captureId: `cap-${s}`, amount, totalCaptured: amount, at: at(s) } }),
    voided: (s: number): OrderEvent => ({ type: 'PaymentVoided', data: { orderId, authorizationId: 'auth-1', at: at(s) } }),
    refunded: (amount: number, s: number): OrderEvent => ({ type: 'PaymentRefunded', data: { orderId, refundId: `ref-${s}`, amount, totalRefunded: amount, at: at(s) } }),
    pickupPlaced: (): OrderEvent => ({
      type: 'OrderPlaced',
      data: { ...anOrder, orderId, customer: { id: 'c-42' }, delivery: { method: 'pickup', locationId: 'store-1' }, payment: card, total: 4498, placedAt: at(0) } satisfies PlacedOrder,
    }),
    allocatedAtStore: (s: number): OrderEvent => ({
      type: 'OrderAllocated',
      data: { orderId, allocations: [{ locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }] }], transfers: [], cost: 0, why: 'at the store', candidates: [], at: at(s) },
    }),
    reallocated: (s: number): OrderEvent => ({
      type: 'OrderReallocated',
      data: {
        orderId, released: [{ locationId: 'wh-2', lines: [{ sku: 'SKU-2', quantity: 1 }] }], allocations: [{ locationId: 'wh-3', lines: [{ sku: 'SKU-2', quantity: 1 }] }],
        transfers: [], allocationSeq: 1, cost: 300, why: 'wh-3 is the next cheapest', candidates: REALLOCATION_CANDIDATES, cause: 'rejected', backordered: [],
        fulfilmentId: 'f-2', causeEventId: 'e-reject-f-2', at: at(s),
      },
    }),
    /** The fulfilment at `locationId` rejected these lines and no other location could take them. */
    gaveBack: (locationId: string, lines: { sku: string; quantity: number }[], allocationSeq: number, s: number): OrderEvent => ({
      type: 'OrderReallocated',
      data: {
        orderId, released: [{ locationId, lines }], allocations: [], transfers: [], allocationSeq, cost: 0, why: `backordered: none of it at any other location (${allocationSeq})`,
        candidates: [], cause: 'rejected', backordered: lines, fulfilmentId: `f-${locationId}`, causeEventId: `e-${locationId}`, at: at(s),
      },
    }),
    filled: (locationId: string, lines: { sku: string; quantity: number }[], allocationSeq: number, s: number): OrderEvent => ({
      type: 'OrderReallocated',
      data: { orderId, released: [], allocations: [{ locationId, lines }], transfers: [], allocationSeq, cost: 200, why: 'stock arrived', candidates: [], cause: 'backorder', backordered: [], at: at(s) },
    }),
    shipped: (fulfilmentId: string, locationId: string, lines: { sku: string; quantity: number }[], s: number): OrderEvent => ({
      type: 'OrderFulfilmentShipped', data: { orderId, fulfilmentId, locationId, lines, at: at(s) },
    }),
    delivered: (fulfilmentId: string, s: number): OrderEvent => ({ type: 'OrderFulfilmentDelivered', data: { orderId, fulfilmentId, at: at(s) } }),
    ready: (s: number): OrderEvent => ({
      type: 'OrderReadyForPickup', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', code: '481516', readyAt: at(s), expiresAt: at(s + 3600), at: at(s) },
    }),
    collected: (s: number): OrderEvent => ({
      type: 'OrderCollected', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }], at: at(s) },
    }),
  };
}

const SKU1 = [{ sku: 'SKU-1', quantity: 2 }];
const SKU2 = [{ sku: 'SKU-2', quantity: 1 }];

/** Each order's history, as its decider would have recorded it. */
const HISTORIES: Record<string, OrderEvent[]> = (() => {
  const released = orderEvents('o-released');
  const approvedHold = orderEvents('o-approved-hold');
  const rejectedHold = orderEvents('o-rejected-hold');
  const backorder = orderEvents('o-backorder');
  const refunded = orderEvents('o-refunded');
  const declined = orderEvents('o-declined');
  const voided = orderEvents('o-voided');
  const split = orderEvents('o-split');
  const resourced = orderEvents('o-resourced');
  const pickup = orderEvents('o-pickup');
  const givenBack = orderEvents('o-given-back');
  return {
    'o-released': [released.placed(), released.assessed('approve', 1), released.authorized(2), released.allocated(3), released.released(3), released.captured(4498, 4)],
    'o-approved-hold': [approvedHold.placed(), approvedHold.assessed('review', 1), approvedHold.held(1), approvedHold.reviewed('approve', 5)],
    'o-rejected-hold': [rejectedHold.placed(), rejectedHold.assessed('review', 1), rejectedHold.held(1), rejectedHold.reviewed('reject', 5), rejectedHold.rejected('review', 5)],
    'o-backorder': [backorder.placed({ method: 'cash_on_delivery' }), backorder.assessed('approve', 1), backorder.backordered(2), backorder.allocated(9), backorder.released(9)],
    'o-refunded': [refunded.placed(), refunded.authorized(1), refunded.captured(4498, 2), refunded.cancelled(3), refunded.refunded(4498, 4)],
    'o-declined': [declined.placed(), declined.declined(1), declined.rejected('payment_declined', 1)],
    'o-voided': [voided.placed(), voided.authorized(1), voided.allocated(2), voided.cancelled(2), voided.voided(3)],
    'o-split': [
      split.placed(), split.assessed('approve', 1), split.authorized(2), split.allocated(3), split.released(3),
      split.shipped('f-1', 'wh-1', SKU1, 5), split.shipped('f-2', 'wh-2', SKU2, 6), split.delivered('f-1', 7), split.delivered('f-2', 8),
    ],
    'o-resourced': [
      resourced.placed({ method: 'cash_on_delivery' }), resourced.assessed('approve', 1), resourced.allocated(2), resourced.released(2),
      resourced.reallocated(4), resourced.shipped('f-1', 'wh-1', SKU1, 5), resourced.shipped('f-3', 'wh-3', SKU2, 6),
    ],
    'o-given-back': [
      givenBack.placed(), givenBack.assessed('approve', 1), givenBack.authorized(2), givenBack.allocated(3), givenBack.released(3),
      givenBack.gaveBack('wh-2', SKU2, 1, 4), givenBack.gaveBack('wh-1', SKU1, 2, 5), givenBack.filled('wh-3', [...SKU1, ...SKU2], 3, 6),
      givenBack.shipped('f-3', 'wh-3', [...SKU1, ...SKU2], 7),
    ],
    'o-pickup': [pickup.pickupPlaced(), pickup.assessed('approve', 1), pickup.authorized(2), pickup.allocatedAtStore(3), pickup.released(3), pickup.ready(5), pickup.collected(9)],
  };
})();

/** The histories interleaved, as the log would hold them, with their positions. */
function theLog(): Recorded<OrderEvent>[] {
  const histories = Object.values(HISTORIES);
  const log: Recorded<OrderEvent>[] = [];
  for (let i = 0; histories.some((h) => i < h.length); i++) {
    for (const h of histories) {
      if (i < h.length) log.push({ ...h[i], id: randomUUID(), metadata: {}, streamId: orderStream(h[i].data.orderId), revision: i, position: log.length + 1, recordedAt: new Date() });
    }
  }
  return log;
}

const statusAfter = (events: OrderEvent[]) => (fold(orderDecider, events) as PlacedState).status;

async function rows(knex: Knex) {
  return {
    orders: await knex('orders').select().orderBy('order_id'),
    timeline: await knex('order_timeline').select().orderBy(['order_id', 'position']),
  };
}

async function inBatches(knex: Knex, log: Recorded<OrderEvent>[], size: number): Promise<void> {
  for (let i = 0; i < log.length; i += size) await knex.transaction((trx) => ordersProjection.applyBatch!(log.slice(i, i + size), trx));
}

describe('orders projection', function () {
  this.timeout(30_000);
  const log = theLog();
  let oneByOne: Awaited<ReturnType<typeof readModelWorld>>;
  /** The status of each order after each event, applied one at a time, with what its decider says. */
  const statuses: { orderId: string; type: string; row: string; decider: string }[] = [];

  before(async () => {
    oneByOne = await readModelWorld();
    for (const e of log) {
      await oneByOne.knex.transaction((trx) => ordersProjection.apply(e, trx));
      const history = log.filter((h) => h.data.orderId === e.data.orderId && h.position <= e.position);
      const row = await oneByOne.knex('orders').where({ order_id: e.data.orderId }).first('status');
      statuses.push({ orderId: e.data.orderId, type: e.type, row: row.status, decider: statusAfter(history) });
    }
  });
  after(async () => { await oneByOne.cleanup(); });

  const row = (orderId: string) => oneByOne.knex('orders').where({ order_id: orderId }).first();

  it('holds a placed order with its placement facts, received, its payment not yet touched', async () => {
    const placed = HISTORIES['o-released'][0].data as PlacedOrder;
    const r = await row('o-released');
    expect(r).to.deep.include({
      order_id: 'o-released', placed_position: 1, channel: 'marketplace', source: 'lazada', external_id: 'LZ-10001', customer_id: 'c-42',
      customer_email: 'ana@example.com', address_key: addressKey(placed), customer: placed.customer, lines: placed.lines, currency: 'USD',
      total: 4498, delivery: placed.delivery, payment_method: 'card', payment_fingerprint: paymentFingerprint(placed), placed_by: 'key-1',
      placed_at: new Date(at(0)),
    });
    expect(statuses.find((s) => s.orderId === 'o-released' && s.type === 'OrderPlaced')).to.include({ row: 'received' });
  });

  it('gives every order after every event the status its decider gives it', () => {
    expect(statuses.filter((s) => s.row !== s.decider)).to.deep.equal([]);
    expect(new Set(statuses.map((s) => s.row))).to.deep.equal(new Set([
      'received', 'on_hold', 'backordered', 'released', 'cancelled', 'rejected', 'partially_shipped', 'shipped', 'delivered', 'ready_for_pickup', 'collected',
    ]));
  });

  it('records the fraud result, the allocation with the transfers from each location, the release and the payment ledger', async () => {
    const r = await row('o-released');
    expect(r).to.deep.include({
      status: 'released',
      fraud: { score: 10, decision: 'approve', reasons: [{ code: 'new_customer', points: 10, detail: 'first order' }] },
      allocations: [
        { locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }], status: 'reserved', allocationSeq: 0, transfers: [] },
        {
          locationId: 'wh-2', lines: [{ sku: 'SKU-2', quantity: 1 }], status: 'reserved', allocationSeq: 0,
          transfers: [{ from: 'wh-2', to: 'wh-1', lines: [{ sku: 'SKU-2', quantity: 1 }] }],
        },
      ],
      backorder: null, released_at: new Date(at(3)), cancelled_at: null, rejection: null,
      payment: { authorizationId: 'auth-1', authorized: 4498, captured: 4498 }, updated_at: new Date(at(4)),
    });
  });

  it('holds an order for review until an operator reviews it, and keeps the review', async () => {
    expect(statuses.filter((s) => s.orderId === 'o-approved-hold').map((s) => s.row)).to.deep.equal(['received', 'on_hold', 'on_hold', 'received']);
    expect(await row('o-approved-hold')).to.deep.include({ review: { decision: 'approve', note: 'called', reviewer: 'op-1', at: at(5) } });
    expect(await row('o-rejected-hold')).to.deep.include({ status: 'rejected', rejection: { cause: 'review', detail: 'rejected: review', at: at(5) } });
  });

  it('backorders the missing lines, and clears them once the order is allocated', async () => {
    expect(statuses.filter((s) => s.orderId === 'o-backorder').map((s) => s.row)).to.deep.equal(['received', 'received', 'backordered', 'received', 'released']);
    expect(await row('o-backorder')).to.deep.include({ backorder: null, payment_method: 'cash_on_delivery', payment: {} });
  });

  it('backorders lines given back that no location could take, the order backordered once nothing else is held, until stock fills them', async () => {
    expect(statuses.filter((s) => s.orderId === 'o-given-back').map((s) => s.row).slice(-5)).to.deep.equal(['released', 'released', 'backordered', 'released', 'shipped']);
    const halfway = await readModelWorld();
    try {
      const history = log.filter((e) => e.data.orderId === 'o-given-back');
      await inBatches(halfway.knex, history.slice(0, -2), 100);
      const r = await halfway.knex('orders').where({ order_id: 'o-given-back' }).first();
      expect(r).to.deep.include({
        status: 'backordered',
        backorder: { missing: [...SKU2, ...SKU1], why: 'backordered: none of it at any other location (2)' },
        backordered: [
          { lines: SKU2, allocationSeq: 1, from: ['wh-2'], filledBy: null },
          { lines: SKU1, allocationSeq: 2, from: ['wh-1'], filledBy: null },
        ],
      });
      expect(r.allocations.map((a: { locationId: string; status: string }) => `${a.locationId}:${a.status}`)).to.deep.equal(['wh-1:released', 'wh-2:released']);
      const timeline = await halfway.knex('order_timeline').where({ order_id: 'o-given-back', type: 'OrderReallocated' }).orderBy('position').pluck('details');
      expect(timeline[0]).to.deep.include({ cause: 'rejected', fulfilmentId: 'f-wh-2', released: [{ locationId: 'wh-2', lines: SKU2 }], locations: [], backordered: SKU2 });
    } finally {
      await halfway.cleanup();
    }
    const r = await row('o-given-back');
    expect(r).to.deep.include({ status: 'shipped', backorder: null });
    expect(r.backordered.map((b: { filledBy: number | null }) => b.filledBy)).to.deep.equal([3, 3]);
  });

  it('records the cancellation and what the ledger settled', async () => {
    expect(await row('o-refunded')).to.deep.include({ status: 'cancelled', cancelled_at: new Date(at(3)), payment: { authorizationId: 'auth-1', authorized: 4498, captured: 4498, refunded: 4498 } });
    expect(await row('o-voided')).to.deep.include({ status: 'cancelled', payment: { authorizationId: 'auth-1', authorized: 4498, voided: true } });
    expect(await row('o-declined')).to.deep.include({ status: 'rejected', payment: { declined: { code: 'card_declined', detail: 'The card was declined' } } });
  });

  it('releases the allocations of a cancelled order', async () => {
    expect((await row('o-voided')).allocations.map((a: { status: string }) => a.status)).to.deep.equal(['released', 'released']);
  });

  it('ships an order in parts, then delivers it, with each shipment and the allocation it fulfilled', async () => {
    expect(statuses.filter((s) => s.orderId === 'o-split').map((s) => s.row).slice(-4)).to.deep.equal(['partially_shipped', 'shipped', 'shipped', 'delivered']);
    expect(await row('o-split')).to.deep.include({
      status: 'delivered',
      shipments: [
        { fulfilmentId: 'f-1', locationId: 'wh-1', lines: SKU1, shippedAt: at(5), deliveredAt: at(7) },
        { fulfilmentId: 'f-2', locationId: 'wh-2', lines: SKU2, shippedAt: at(6), deliveredAt: at(8) },
      ],
    });
    expect((await row('o-split')).allocations.map((a: { status: string; fulfilmentId?: string }) => [a.status, a.fulfilmentId])).to.deep.equal([['fulfilled', 'f-1'], ['fulfilled', 'f-2']]);
  });

  it('lists a re-sourced part as released and the part that replaced it as reserved, each fulfilled when it ships', async () => {
    const history = HISTORIES['o-resourced'];
    const reallocatedAt = history.findIndex((e) => e.type === 'OrderReallocated');
    const halfway = await readModelWorld();
    try {
      await inBatches(halfway.knex, log.filter((e) => e.data.orderId === 'o-resourced').slice(0, reallocatedAt + 1), 100);
      expect((await halfway.knex('orders').where({ order_id: 'o-resourced' }).first()).allocations).to.deep.equal([
        { locationId: 'wh-1', lines: SKU1, status: 'reserved', allocationSeq: 0, transfers: [] },
        { locationId: 'wh-2', lines: SKU2, status: 'released', allocationSeq: 0, transfers: [{ from: 'wh-2', to: 'wh-1', lines: SKU2 }] },
        { locationId: 'wh-3', lines: SKU2, status: 'reserved', allocationSeq: 1, transfers: [] },
      ]);
    } finally {
      await halfway.cleanup();
    }
    expect((await row('o-resourced')).allocations).to.deep.equal([
      { locationId: 'wh-1', lines: SKU1, status: 'fulfilled', allocationSeq: 0, transfers: [], fulfilmentId: 'f-1' },
      { locationId: 'wh-2', lines: SKU2, status: 'released', allocationSeq: 0, transfers: [{ from: 'wh-2', to: 'wh-1', lines: SKU2 }] },
      { locationId: 'wh-3', lines: SKU2, status: 'fulfilled', allocationSeq: 1, transfers: [], fulfilmentId: 'f-3' },
    ]);
  });

  it('holds a pickup ready at the counter with its code and expiry until it is collected', async () => {
    expect(statuses.filter((s) => s.orderId === 'o-pickup').map((s) => s.row).slice(-3)).to.deep.equal(['released', 'ready_for_pickup', 'collected']);
    expect(await row('o-pickup')).to.deep.include({
      status: 'collected',
      pickups: [{ fulfilmentId: 'f-s', locationId: 'store-1', code: '481516', readyAt: at(5), expiresAt: at(3605), collected: { lines: [...SKU1, ...SKU2], at: at(9) } }],
      shipments: [],
    });
  });

  it('writes a timeline entry for each fulfilment fact, without the pickup code', async () => {
    const timeline = async (orderId: string) => (await oneByOne.knex('order_timeline').where({ order_id: orderId }).orderBy('position').select('type', 'details')).slice(-2);
    expect(await timeline('o-pickup')).to.deep.equal([
      { type: 'OrderReadyForPickup', details: { fulfilmentId: 'f-s', locationId: 'store-1', expiresAt: at(3605) } },
      { type: 'OrderCollected', details: { fulfilmentId: 'f-s', locationId: 'store-1', lines: [...SKU1, ...SKU2] } },
    ]);
    expect(await timeline('o-split')).to.deep.equal([
      { type: 'OrderFulfilmentDelivered', details: { fulfilmentId: 'f-1' } },
      { type: 'OrderFulfilmentDelivered', details: { fulfilmentId: 'f-2' } },
    ]);
    const resourced = await oneByOne.knex('order_timeline').where({ order_id: 'o-resourced' }).orderBy('position').select('type', 'details');
    expect(resourced.slice(-3)).to.deep.equal([
      {
        type: 'OrderReallocated',
        details: {
          cause: 'rejected', why: 'wh-3 is the next cheapest', cost: 300, allocationSeq: 1, released: [{ locationId: 'wh-2', lines: SKU2 }], locations: ['wh-3'],
          backordered: [], candidates: REALLOCATION_CANDIDATES, fulfilmentId: 'f-2',
        },
      },
      { type: 'OrderFulfilmentShipped', details: { fulfilmentId: 'f-1', locationId: 'wh-1', lines: SKU1 } },
      { type: 'OrderFulfilmentShipped', details: { fulfilmentId: 'f-3', locationId: 'wh-3', lines: SKU2 } },
    ]);
  });

  it('keeps each order\'s timeline in log order', async () => {
    const timeline = await oneByOne.knex('order_timeline').where({ order_id: 'o-approved-hold' }).orderBy('position').select('type', 'details');
    expect(timeline).to.deep.equal([
      { type: 'OrderPlaced', details: { channel: 'marketplace', total: 4498, currency: 'USD' } },
      { type: 'FraudAssessed', details: { score: 70, decision: 'review' } },
      { type: 'OrderHeld', details: { reason: 'fraud score 70 needs a review' } },
      { type: 'OrderReviewed', details: { decision: 'approve', note: 'called', reviewer: 'op-1' } },
    ]);
  });

  it('ends with the same rows when several changes to one order arrive in one batch', async () => {
    const expected = await rows(oneByOne.knex);
    for (const size of [log.length, 4]) {
      const batched = await readModelWorld();
      try {
        await inBatches(batched.knex, log, size);
        expect(await rows(batched.knex), `batches of ${size}`).to.deep.equal(expected);
      } finally {
        await batched.cleanup();
      }
    }
  });

  it('puts what became of a fulfilment\'s label on the order\'s timeline (a purchase given up, a label voided), leaving the order as it was', async () => {
    const own = await readModelWorld();
    try {
      const mine = log.filter((e) => e.data.orderId === 'o-released');
      await inBatches(own.knex, mine, 100);
      const before = await own.knex('orders').where({ order_id: 'o-released' }).first();
      const ids = { fulfilmentId: 'f-1', orderId: 'o-released', locationId: 'wh-1' };
      const news = [
        { type: 'LabelPurchaseFailed', data: { ...ids, attempt: 3, carrierId: null, code: 'no_carrier', reason: 'every carrier refused the label', refusedBy: ['parcelnet'], at: at(20) } },
        { type: 'LabelCancelled', data: { ...ids, carrierId: 'parcelnet', trackingNumber: 'PN1', at: at(30) } },
      ].map((e, i) => ({ ...e, id: randomUUID(), metadata: {}, streamId: 'fulfilment-f-1', revision: i, position: log.length + 1 + i, recordedAt: new Date() }));
      await own.knex.transaction((trx) => ordersProjection.applyBatch!(news as never, trx));
      expect(await own.knex('orders').where({ order_id: 'o-released' }).first()).to.deep.equal(before);
      const timeline = await own.knex('order_timeline').where({ order_id: 'o-released' }).orderBy('position').select('type', 'details');
      expect(timeline.slice(-2)).to.deep.equal([
        { type: 'LabelPurchaseFailed', details: { fulfilmentId: 'f-1', attempt: 3, carrierId: null, code: 'no_carrier', reason: 'every carrier refused the label', refusedBy: ['parcelnet'] } },
        { type: 'LabelCancelled', details: { fulfilmentId: 'f-1', carrierId: 'parcelnet', trackingNumber: 'PN1' } },
      ]);
    } finally {
      await own.cleanup();
    }
  });

  it('refuses a change to an order it does not hold, so the runner records it', async () => {
    const stray = { ...log[log.length - 1], data: { ...log[log.length - 1].data, orderId: 'o-unknown' }, position: log.length + 1 } as Recorded<OrderEvent>;
    let err: unknown;
    await oneByOne.knex.transaction((trx) => ordersProjection.apply(stray, trx)).catch((e) => { err = e; });
    expect(err).to.be.instanceOf(UnappliableEvent);
    expect(await oneByOne.knex('order_timeline').where({ order_id: 'o-unknown' }).count('* as n').first()).to.deep.equal({ n: 0 });
  });
});

describe('migration 012-order-fulfilment on orders allocated before it', () => {
  let db: Awaited<ReturnType<typeof isolatedSchema>>;
  let knex: Knex;
  const migration = schemaMigrations.find((m) => m.name === '012-order-fulfilment')!;
  before(async () => {
    db = await isolatedSchema('rm');
    knex = createKnex(db);
    await migrate(knex, 'oms_migrations', schemaMigrations.filter((m) => m !== migration), db.schema);
  });
  after(async () => { await knex.destroy(); await db.drop(); });

  it('marks the allocations of open orders reserved and of closed ones released, all from the first allocation', async () => {
    const allocations = [{ locationId: 'wh-1', lines: SKU1, transfers: [] }, { locationId: 'wh-2', lines: SKU2, transfers: [{ from: 'wh-2', to: 'wh-1', lines: SKU2 }] }];
    const order = (orderId: string, position: number, closed: Record<string, unknown>) => ({
      order_id: orderId, placed_position: position, status: 'released', channel: 'web', customer_id: 'c-1', customer: {}, lines: JSON.stringify([...SKU1, ...SKU2]),
      currency: 'USD', total: 1, delivery: {}, payment_method: 'prepaid', placed_by: 'k', placed_at: NOW, updated_at: NOW, allocations: JSON.stringify(allocations), ...closed,
    });
    await knex('orders').insert([
      order('o-open', 1, {}), order('o-cancelled', 2, { cancelled_at: NOW }), order('o-rejected', 3, { rejection: { cause: 'fraud' } }),
      { ...order('o-none', 4, {}), allocations: JSON.stringify([]) },
    ]);
    await migrate(knex, 'oms_migrations', schemaMigrations, db.schema);
    const after = new Map((await knex('orders').select('order_id', 'allocations', 'pickups')).map((r) => [r.order_id, r]));
    expect(after.get('o-open').allocations).to.deep.equal(allocations.map((a) => ({ ...a, status: 'reserved', allocationSeq: 0 })));
    for (const id of ['o-cancelled', 'o-rejected']) expect(after.get(id).allocations).to.deep.equal(allocations.map((a) => ({ ...a, status: 'released', allocationSeq: 0 })));
    expect(after.get('o-none')).to.deep.include({ allocations: [], pickups: [] });
  });
});
