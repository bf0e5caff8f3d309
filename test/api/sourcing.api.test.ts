import { expect } from 'chai';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES } from '../../jobs/queues.js';
import { fold } from '../../write-side/decider.js';
import { available, stockDecider, stockStream, type StockEvent } from '../../write-side/inventory/stock.decider.js';
import { anOrderBody, eventually, KEYS, NO_FRAUD_HOLDS, startHarness, type Harness } from '../support/service-harness.js';
import { TEST_REDIS_URL, uniqueName } from '../support/test-env.js';

// Berlin customers; a warehouse near Hamburg, a store in Berlin, a hub in Munich.
const BERLIN = { lat: 52.52, lon: 13.405 };
const NETWORK = {
  'wh-hamburg': { name: 'Hamburg DC', type: 'warehouse', geo: { lat: 53.55, lon: 9.99 }, canShip: true, canPickup: false, handlingCost: 100 },
  'store-berlin': { name: 'Berlin Mitte', type: 'store', geo: { lat: 52.52, lon: 13.40 }, canShip: true, canPickup: true, handlingCost: 400 },
  'hub-munich': { name: 'Munich hub', type: 'hub', geo: { lat: 48.14, lon: 11.58 }, canShip: true, canPickup: false, handlingCost: 100 },
} as const;

const shipTo = (speed = 'standard') => ({ method: 'ship', speed, address: { line1: '1 Unter den Linden', city: 'Berlin', postalCode: '10117', country: 'DE', geo: BERLIN } });

describe('sourcing and the inventory ledger', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await startHarness(NO_FRAUD_HOLDS);      // sourcing alone: many orders from one customer and card are not fraud here
    for (const [id, body] of Object.entries(NETWORK)) {
      expect((await h.call('PUT', `/locations/${id}`, { key: KEYS.operator, body })).status).to.equal(201);
    }
  });
  after(async () => { await h.stop(); });

  const sku = () => uniqueName('SKU').slice(0, 60);
  /** Receives stock and waits until the stock read model (where sourcing looks first) shows it. */
  async function receive(s: string, locationId: string, quantity: number) {
    const r = await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: s, locationId, quantity } });
    expect(r.status).to.equal(201);
    const seen = await h.call('GET', `/inventory/${s}?minPosition=${r.body.position}`, { key: KEYS.operator });
    expect(seen.body.position).to.be.at.least(r.body.position);
    return r.body.position as number;
  }
  async function place(lines: { sku: string; quantity: number }[], delivery: Record<string, unknown> = shipTo()) {
    const r = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ lines: lines.map((l) => ({ ...l, unitPrice: 1000 })), delivery }) });
    expect(r.status).to.equal(201);
    return r.body.orderId as string;
  }
  /** The order once sourcing has decided: allocated, or backordered. */
  async function sourced(orderId: string, want?: 'allocated' | 'backordered') {
    return eventually(async () => {
      const r = await h.call('GET', `/orders/${orderId}`, { key: KEYS.operator });
      const done = r.body.allocations?.length > 0 ? 'allocated' : r.body.status === 'backordered' ? 'backordered' : undefined;
      return done && (!want || done === want) ? r.body : undefined;
    }, 15_000);
  }
  /** The order once it has the status wanted. */
  async function withStatus(orderId: string, want: string) {
    return eventually(async () => {
      const r = await h.call('GET', `/orders/${orderId}`, { key: KEYS.operator });
      return r.body.status === want ? r.body : undefined;
    }, 15_000);
  }
  /** Waits until the backorders job for this stock event (job ids are event ids) has completed. */
  async function backordersTried(eventId: string) {
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const backorders = new Queue(QUEUES.backorders, { connection: redis, prefix: h.queuePrefix });
    try {
      await eventually(async () => ((await backorders.getJobState(eventId)) === 'completed' ? true : undefined), 15_000);
    } finally {
      await backorders.close();
      redis.disconnect();
    }
  }
  async function ledger(s: string, locationId: string) {
    const events = await h.service.store.readStream(stockStream(s, locationId));
    return fold(stockDecider, events.map((e) => ({ type: e.type, data: e.data }) as StockEvent));
  }

  it('ships from the single location with the lowest total cost, and explains why', async () => {
    const s = sku();
    await receive(s, 'wh-hamburg', 5);
    await receive(s, 'store-berlin', 5);
    await receive(s, 'hub-munich', 5);
    const order = await sourced(await place([{ sku: s, quantity: 2 }]), 'allocated');
    // Hamburg is cheap to handle but 255 km away; the Berlin store is next door but dear to handle.
    expect(order.allocations).to.have.length(1);
    const entry = order.timeline.find((t: { type: string }) => t.type === 'OrderAllocated');
    expect(entry.why).to.be.a('string').and.not.empty;
    const chosen = order.allocations[0].locationId;
    expect((await ledger(s, chosen)).reservations.toJS()).to.deep.equal({ [order.orderId]: 2 });
  });

  it('ships express orders from the nearest location that can fill them', async () => {
    const s = sku();
    await receive(s, 'wh-hamburg', 5);
    await receive(s, 'store-berlin', 5);
    const order = await sourced(await place([{ sku: s, quantity: 1 }], shipTo('express')), 'allocated');
    expect(order.allocations.map((a: { locationId: string }) => a.locationId)).to.deep.equal(['store-berlin']);
  });

  it('splits an order only when no single location can fill it', async () => {
    const s = sku();
    await receive(s, 'wh-hamburg', 3);
    await receive(s, 'hub-munich', 3);
    const order = await sourced(await place([{ sku: s, quantity: 5 }]), 'allocated');
    expect(order.allocations).to.have.length(2);
    const total = order.allocations.flatMap((a: { lines: { quantity: number }[] }) => a.lines).reduce((n: number, l: { quantity: number }) => n + l.quantity, 0);
    expect(total).to.equal(5);
  });

  it('reserves a pickup order at the store when it has the stock', async () => {
    const s = sku();
    await receive(s, 'store-berlin', 2);
    await receive(s, 'wh-hamburg', 50);
    const order = await sourced(await place([{ sku: s, quantity: 2 }], { method: 'pickup', locationId: 'store-berlin' }), 'allocated');
    expect(order.allocations).to.deep.equal([{ locationId: 'store-berlin', lines: [{ sku: s, quantity: 2 }], status: 'reserved', allocationSeq: 0, transfers: [] }]);
  });

  it('sources a pickup order elsewhere and plans a transfer to the store when it lacks stock', async () => {
    const s = sku();
    await receive(s, 'store-berlin', 1);
    await receive(s, 'wh-hamburg', 10);
    const order = await sourced(await place([{ sku: s, quantity: 3 }], { method: 'pickup', locationId: 'store-berlin' }), 'allocated');
    const byLocation = Object.fromEntries(order.allocations.map((a: { locationId: string; lines: { quantity: number }[]; transfers: unknown[] }) => [a.locationId, a]));
    expect(byLocation['store-berlin'].lines[0].quantity).to.equal(1);
    expect(byLocation['wh-hamburg'].lines[0].quantity).to.equal(2);
    expect(byLocation['wh-hamburg'].transfers).to.deep.equal([{ from: 'wh-hamburg', to: 'store-berlin', lines: [{ sku: s, quantity: 2 }] }]);
  });

  it('sources an order taken in a store for home delivery from the whole network (endless aisle)', async () => {
    const s = sku();
    await receive(s, 'hub-munich', 4);
    const id = (await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ channel: 'store', source: 'store-berlin', lines: [{ sku: s, quantity: 1, unitPrice: 500 }], delivery: shipTo() }) })).body.orderId;
    const order = await sourced(id, 'allocated');
    expect(order.allocations[0].locationId).to.equal('hub-munich');
  });

  it('never promises safety stock', async () => {
    const s = sku();
    await receive(s, 'wh-hamburg', 5);
    expect((await h.call('PUT', '/inventory/safety-stock', { key: KEYS.operator, body: { sku: s, locationId: 'wh-hamburg', quantity: 4 } })).status).to.equal(200);
    const order = await sourced(await place([{ sku: s, quantity: 2 }]), 'backordered');
    expect(order.backorder.missing).to.deep.equal([{ sku: s, quantity: 1 }]);
  });

  it('backorders what cannot be filled, then fills backorders in placement order as stock arrives', async () => {
    const s = sku();
    const first = await place([{ sku: s, quantity: 2 }]);
    await sourced(first, 'backordered');
    const second = await place([{ sku: s, quantity: 2 }]);
    await sourced(second, 'backordered');
    await receive(s, 'hub-munich', 2);
    expect((await sourced(first, 'allocated')).allocations[0].locationId).to.equal('hub-munich');
    // Once the backorders that stock could fill have all been tried, the second is still waiting.
    const received = (await h.service.store.readStream(stockStream(s, 'hub-munich'))).find((e) => e.type === 'StockReceived')!;
    await backordersTried(received.id);
    const still = await h.call('GET', `/orders/${second}?minPosition=${await h.service.store.headPosition()}`, { key: KEYS.operator });
    expect(still.body).to.include({ status: 'backordered' });
    expect(still.body.allocations).to.deep.equal([]);
    await receive(s, 'wh-hamburg', 2);
    const filled = await withStatus(second, 'released');
    expect(filled.allocations.map((a: { locationId: string }) => a.locationId)).to.deep.equal(['wh-hamburg']);
  });

  it('releases what a cancelled order reserved', async () => {
    const s = sku();
    await receive(s, 'wh-hamburg', 3);
    const id = await place([{ sku: s, quantity: 3 }]);
    await sourced(id, 'allocated');
    expect((await ledger(s, 'wh-hamburg')).reserved).to.equal(3);
    expect((await h.call('POST', `/orders/${id}/cancel`, { key: KEYS.client, body: { reason: 'changed my mind' } })).status).to.equal(200);
    await eventually(async () => ((await ledger(s, 'wh-hamburg')).reserved === 0 ? true : undefined));
    expect(available(await ledger(s, 'wh-hamburg'))).to.equal(3);
  });

  it('answers availability without reserving anything', async () => {
    const s = sku();
    const pos = await receive(s, 'wh-hamburg', 3);
    const yes = await h.call('POST', `/availability?minPosition=${pos}`, { key: KEYS.client, body: { lines: [{ sku: s, quantity: 3 }], delivery: shipTo() } });
    expect(yes.status).to.equal(200);
    expect(yes.body).to.include({ fillable: true });
    expect(yes.body.plan).to.deep.equal([{ locationId: 'wh-hamburg', lines: [{ sku: s, quantity: 3 }] }]);
    expect(yes.body.candidates).to.be.an('array').with.length(3);
    expect(yes.body.position).to.be.a('number');
    const no = await h.call('POST', '/availability', { key: KEYS.operator, body: { lines: [{ sku: s, quantity: 4 }], delivery: shipTo() } });
    expect(no.body).to.include({ fillable: false });
    expect(no.body.missing).to.deep.equal([{ sku: s, quantity: 1 }]);
    expect((await ledger(s, 'wh-hamburg')).reserved).to.equal(0);
    const stock = await h.call('GET', `/inventory/${s}?minPosition=${pos}`, { key: KEYS.operator });
    expect(stock.body.totals).to.deep.equal({ onHand: 3, reserved: 0, available: 3, inTransit: 0 });
  });

  it('moves stock between locations: it leaves at once and arrives on receipt, once', async () => {
    const s = sku();
    await receive(s, 'wh-hamburg', 10);
    const t = await h.call('POST', '/inventory/transfers', { key: KEYS.operator, body: { sku: s, from: 'wh-hamburg', to: 'store-berlin', quantity: 4 } });
    expect(t.status).to.equal(201);
    expect(t.body).to.include({ sku: s, from: 'wh-hamburg', to: 'store-berlin', quantity: 4, status: 'in_transit' });
    const during = await h.call('GET', `/inventory/${s}?minPosition=${t.body.position}`, { key: KEYS.operator });
    const berlin = () => during.body.locations.find((l: { locationId: string }) => l.locationId === 'wh-hamburg');
    expect(berlin().onHand).to.equal(6);
    const arrived = await h.call('POST', `/inventory/transfers/${t.body.transferId}/receive?minPosition=${t.body.position}`, { key: KEYS.operator });
    expect(arrived.status).to.equal(200);
    expect(arrived.body.status).to.equal('received');
    const again = await h.call('POST', `/inventory/transfers/${t.body.transferId}/receive`, { key: KEYS.operator });
    expect(again.status).to.equal(200);
    expect((await ledger(s, 'store-berlin')).onHand).to.equal(4);
    const refused = await h.call('POST', '/inventory/transfers', { key: KEYS.operator, body: { sku: s, from: 'wh-hamburg', to: 'store-berlin', quantity: 7 } });
    expect(refused.status).to.equal(409);
    expect((await h.call('POST', '/inventory/transfers/00000000-0000-7000-8000-000000000000/receive', { key: KEYS.operator })).status).to.equal(404);
  });

  describe('300 buyers racing for 60 units at three locations', () => {
    it('reserves exactly 60, backorders the rest, never goes below zero, and the read model equals the ledger', async () => {
      const s = sku();
      let last = 0;
      for (const id of Object.keys(NETWORK)) last = await receive(s, id, 20);
      const answers = await Promise.all(Array.from({ length: 300 }, () =>
        h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ lines: [{ sku: s, quantity: 1, unitPrice: 999 }], delivery: shipTo() }) })));
      expect(answers.map((a) => a.status).filter((x) => x !== 201)).to.deep.equal([]);
      const ids = answers.map((a) => a.body.orderId as string);
      const orders = await eventually(async () => {
        const page = await h.service.knex('orders').whereIn('order_id', ids).select('order_id', 'status', 'allocations');
        const decided = page.filter((o) => o.status === 'backordered' || (o.allocations as unknown[]).length > 0);
        return decided.length === 300 ? page : undefined;
      }, 60_000, 100);
      const allocated = orders.filter((o) => (o.allocations as unknown[]).length > 0);
      expect(allocated).to.have.length(60);
      expect(orders.filter((o) => o.status === 'backordered')).to.have.length(240);

      let reserved = 0;
      for (const id of Object.keys(NETWORK)) {
        const l = await ledger(s, id);
        expect(l.onHand - l.reserved, id).to.be.at.least(0);
        expect(available(l), id).to.equal(0);
        reserved += l.reserved;
      }
      expect(reserved).to.equal(60);

      const head = await h.service.store.headPosition();
      await eventually(async () => ((await h.call('GET', `/inventory/${s}?minPosition=${Math.max(last, head)}`, { key: KEYS.operator })).body.position >= head ? true : undefined), 10_000);
      const stock = await h.call('GET', `/inventory/${s}`, { key: KEYS.operator });
      for (const row of stock.body.locations) {
        const l = await ledger(s, row.locationId);
        expect({ onHand: row.onHand, reserved: row.reserved, available: row.available }, row.locationId)
          .to.deep.equal({ onHand: l.onHand, reserved: l.reserved, available: available(l) });
      }
    });
  });
});
