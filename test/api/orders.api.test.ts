import { expect } from 'chai';
import { ORDER_STATUSES } from '../../write-side/orders/order.state.js';
import { anOrderBody, eventually, KEYS, startHarness, type Harness } from '../support/service-harness.js';

describe('orders API', function () {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.stop(); });

  describe('placing a new order', () => {
    it('answers 201 at once, then shows the order with a fraud result', async () => {
      const placed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody() });
      expect(placed.status).to.equal(201);
      expect(placed.body).to.include({ status: 'received' });
      expect(placed.body.orderId).to.match(/^[0-9a-f-]{36}$/);
      expect(placed.body.position).to.be.a('number');
      expect(Date.parse(placed.body.placedAt)).to.be.closeTo(Date.now(), 10_000);

      const read = await h.call('GET', `/orders/${placed.body.orderId}?minPosition=${placed.body.position}`, { key: KEYS.client });
      expect(read.status).to.equal(200);
      expect(read.body).to.include({ orderId: placed.body.orderId, channel: 'marketplace', source: 'lazada', currency: 'USD', total: 3998 });
      expect(read.body.position).to.be.at.least(placed.body.position);
      expect(read.body.payment).to.include({ method: 'card' });
      expect(read.body.timeline[0]).to.include({ type: 'OrderPlaced' });

      // Scored, authorised and sourced (no stock anywhere in this test), in any order.
      const scored = await eventually(async () => {
        const r = await h.call('GET', `/orders/${placed.body.orderId}`, { key: KEYS.client });
        return r.body.fraud && r.body.payment.status === 'authorized' && r.body.status === 'backordered' ? r.body : undefined;
      }, 15_000);
      expect(scored.fraud.decision).to.equal('approve');
      expect(scored.fraud.score).to.be.a('number');
      expect(scored.fraud.reasons.map((r: { code: string }) => r.code)).to.include('new_customer');
      expect(scored.timeline.map((t: { type: string }) => t.type)).to.include.members(['OrderPlaced', 'FraudAssessed', 'OrderBackordered']);
    });

    it('accepts a pickup order only at an active pickup location', async () => {
      const bad = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ delivery: { method: 'pickup', locationId: 'nowhere' } }) });
      expect(bad.status).to.equal(400);
      expect(bad.body.errors[0].path).to.equal('/delivery/locationId');
      await h.call('PUT', '/locations/store-9', { key: KEYS.operator, body: { name: 'Store 9', type: 'store', geo: { lat: 1, lon: 1 }, canShip: false, canPickup: true } });
      const ok = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ delivery: { method: 'pickup', locationId: 'store-9' } }) });
      expect(ok.status).to.equal(201);
      // Closed through this process: known at once, whatever the check's cache allows.
      await h.call('PUT', '/locations/store-9', { key: KEYS.operator, body: { name: 'Store 9', type: 'store', geo: { lat: 1, lon: 1 }, canShip: false, canPickup: true, active: false } });
      const closed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ delivery: { method: 'pickup', locationId: 'store-9' } }) });
      expect(closed.status).to.equal(400);
      expect(closed.body.errors[0].path).to.equal('/delivery/locationId');
    });
  });

  describe('the same channel order arriving again', () => {
    it('answers 200 with the first orderId and duplicate: true, appending nothing', async () => {
      const body = anOrderBody();
      const first = await h.call('POST', '/orders', { key: KEYS.client, body });
      const again = await h.call('POST', '/orders', { key: KEYS.client, body: { ...body, lines: [{ sku: 'OTHER', quantity: 1, unitPrice: 1 }] } });
      expect(again.status).to.equal(200);
      expect(again.body).to.include({ orderId: first.body.orderId, duplicate: true });
      const stream = await h.service.store.readStream(`order-${first.body.orderId}`);
      expect(stream.filter((e) => e.type === 'OrderPlaced')).to.have.length(1);
      expect(stream.map((e) => e.type)).to.not.include('OrderCancelled');
    });

    it('creates exactly one order from 50 concurrent posts', async () => {
      const body = anOrderBody();
      const answers = await Promise.all(Array.from({ length: 50 }, () => h.call('POST', '/orders', { key: KEYS.client, body })));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 201)).to.have.length(1);
      expect(statuses.filter((s) => s === 200)).to.have.length(49);
      expect(new Set(answers.map((a) => a.body.orderId)).size).to.equal(1);
      const events = await h.service.store.readStream(`order-${answers[0].body.orderId}`);
      expect(events.map((e) => e.type)[0]).to.equal('OrderPlaced');
      expect(events.filter((e) => e.type === 'OrderPlaced')).to.have.length(1);
    });

    it('answers 409, without the order, when another client sends the same channel order', async () => {
      const body = anOrderBody();
      await h.call('POST', '/orders', { key: KEYS.client, body });
      const other = await h.call('POST', '/orders', { key: KEYS.otherClient, body });
      expect(other.status).to.equal(409);
      expect(other.body.orderId).to.equal(undefined);
    });

    it('keeps orders from different sources with the same external id apart', async () => {
      const a = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ source: 'lazada', externalId: 'SAME-1' }) });
      const b = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ source: 'shopee', externalId: 'SAME-1' }) });
      expect([a.status, b.status]).to.deep.equal([201, 201]);
      expect(a.body.orderId).to.not.equal(b.body.orderId);
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the first response for the same body and refuses another body with 409', async () => {
      const body = anOrderBody();
      const headers = { 'idempotency-key': 'retry-abc-1' };
      const first = await h.call('POST', '/orders', { key: KEYS.client, body, headers });
      const replay = await h.call('POST', '/orders', { key: KEYS.client, body, headers });
      expect(first.status).to.equal(201);
      expect(replay.status).to.equal(201);
      expect(replay.body).to.deep.equal(first.body);
      expect(replay.headers.get('idempotent-replayed')).to.equal('true');
      const other = await h.call('POST', '/orders', { key: KEYS.client, body: { ...body, currency: 'EUR' }, headers });
      expect(other.status).to.equal(409);
      expect(other.headers.get('content-type')).to.match(/application\/problem\+json/);
    });

    it('recognises a retry whose first response was lost, without a second order', async () => {
      const body = anOrderBody();
      const headers = { 'idempotency-key': 'lost-response-1' };
      const first = await h.call('POST', '/orders', { key: KEYS.client, body, headers });
      expect(first.status).to.equal(201);
      // The commit happened but the key's record did not survive (say the process died first).
      await h.service.knex('idempotency_keys').where({ key: 'lost-response-1' }).delete();
      const retry = await h.call('POST', '/orders', { key: KEYS.client, body, headers });
      expect(retry.status).to.equal(200);
      expect(retry.body).to.include({ orderId: first.body.orderId, duplicate: true });
      const stream = await h.service.store.readStream(`order-${first.body.orderId}`);
      expect(stream.filter((e) => e.type === 'OrderPlaced')).to.have.length(1);
    });

    it('lets a retry take over a key left in progress by a crashed request', async () => {
      const body = anOrderBody();
      const headers = { 'idempotency-key': 'crashed-1' };
      const first = await h.call('POST', '/orders', { key: KEYS.client, body, headers });
      await h.service.knex('idempotency_keys').where({ key: 'crashed-1' })
        .update({ status: null, response: null, created_at: h.service.knex.raw("now() - interval '5 minutes'") });
      const retry = await h.call('POST', '/orders', { key: KEYS.client, body, headers });
      expect(retry.status).to.equal(200);
      expect(retry.body.orderId).to.equal(first.body.orderId);
    });

    it('refuses a key still in progress with 409', async () => {
      const body = anOrderBody();
      const headers = { 'idempotency-key': 'busy-1' };
      await h.call('POST', '/orders', { key: KEYS.client, body, headers });
      await h.service.knex('idempotency_keys').where({ key: 'busy-1' }).update({ status: null, response: null });
      const retry = await h.call('POST', '/orders', { key: KEYS.client, body, headers });
      expect(retry.status).to.equal(409);
      expect(retry.body.code).to.equal('idempotency.in_progress');
    });

    it('keeps nothing for a refused request, so the corrected one goes through', async () => {
      const headers = { 'idempotency-key': 'retry-abc-2' };
      const bad = await h.call('POST', '/orders', { key: KEYS.client, body: { ...anOrderBody(), currency: 'usd' }, headers });
      expect(bad.status).to.equal(400);
      const good = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody(), headers });
      expect(good.status).to.equal(201);
    });
  });

  describe('reading orders', () => {
    it('hides another client\'s order behind 404', async () => {
      const placed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody() });
      const mine = await h.call('GET', `/orders/${placed.body.orderId}?minPosition=${placed.body.position}`, { key: KEYS.client });
      expect(mine.status).to.equal(200);
      const theirs = await h.call('GET', `/orders/${placed.body.orderId}`, { key: KEYS.otherClient });
      expect(theirs.status).to.equal(404);
      const analyst = await h.call('GET', `/orders/${placed.body.orderId}`, { key: KEYS.analyst });
      expect(analyst.status).to.equal(200);
    });

    it('answers 404 for an unknown or malformed order id', async () => {
      expect((await h.call('GET', '/orders/00000000-0000-7000-8000-000000000000')).status).to.equal(404);
      expect((await h.call('GET', '/orders/not-an-id')).status).to.equal(404);
    });

    it('lists newest first with a cursor and filters by channel', async () => {
      let last = 0;
      for (let i = 0; i < 3; i++) last = (await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ channel: 'social', source: 'tiktok' }) })).body.position;
      const page1 = await h.call('GET', `/orders?channel=social&limit=2&minPosition=${last}`, { key: KEYS.analyst });
      expect(page1.status).to.equal(200);
      expect(page1.body.orders).to.have.length(2);
      expect(page1.body.nextCursor).to.be.a('string');
      const page2 = await h.call('GET', `/orders?channel=social&limit=2&after=${page1.body.nextCursor}`, { key: KEYS.analyst });
      expect(page2.body.orders).to.have.length(1);
      expect(page2.body.nextCursor).to.equal(null);
      const all = [...page1.body.orders, ...page2.body.orders];
      const times = all.map((o: { placedAt: string }) => o.placedAt);
      expect(times).to.deep.equal([...times].sort().reverse());
      expect(all.every((o: { channel: string }) => o.channel === 'social')).to.equal(true);
    });

    it('filters by each status an order can be in, and refuses one no order reaches yet with 400', async () => {
      for (const status of ORDER_STATUSES) {
        const r = await h.call('GET', `/orders?status=${status}`, { key: KEYS.analyst });
        expect(r.status, status).to.equal(200);
        expect(r.body.orders.every((o: { status: string }) => o.status === status), status).to.equal(true);
      }
      const picking = await h.call('GET', '/orders?status=picking', { key: KEYS.analyst });
      expect(picking.status).to.equal(400);
      expect(picking.body.errors).to.deep.equal([{ path: '?status', message: `must be one of ${ORDER_STATUSES.join(', ')}` }]);
    });

    it('refuses a bad filter or cursor with 400', async () => {
      expect((await h.call('GET', '/orders?status=lost', { key: KEYS.analyst })).status).to.equal(400);
      expect((await h.call('GET', '/orders?limit=0', { key: KEYS.analyst })).status).to.equal(400);
      expect((await h.call('GET', '/orders?after=garbage', { key: KEYS.analyst })).status).to.equal(400);
      expect((await h.call('GET', '/orders?minPosition=-1', { key: KEYS.analyst })).status).to.equal(400);
    });

    it('does not let a client list orders', async () => {
      expect((await h.call('GET', '/orders', { key: KEYS.client })).status).to.equal(403);
    });
  });

  describe('cancelling', () => {
    it('cancels a received order, then answers 200 again without appending', async () => {
      const placed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody() });
      const cancelled = await h.call('POST', `/orders/${placed.body.orderId}/cancel`, { key: KEYS.client, body: { reason: 'changed my mind' } });
      expect(cancelled.status).to.equal(200);
      expect(cancelled.body).to.include({ status: 'cancelled' });
      const again = await h.call('POST', `/orders/${placed.body.orderId}/cancel`, { key: KEYS.operator, body: { reason: 'again' } });
      expect(again.status).to.equal(200);
      expect(again.body.position).to.be.at.least(cancelled.body.position);
      const stream = await h.service.store.readStream(`order-${placed.body.orderId}`);
      expect(stream.filter((e) => e.type === 'OrderCancelled')).to.have.length(1);
      const read = await h.call('GET', `/orders/${placed.body.orderId}?minPosition=${cancelled.body.position}`, { key: KEYS.operator });
      expect(read.body.status).to.equal('cancelled');
      expect(read.body.timeline.map((t: { type: string }) => t.type)).to.include('OrderCancelled');
    });

    it('answers 404 for an unknown order and for another client\'s order', async () => {
      expect((await h.call('POST', '/orders/00000000-0000-7000-8000-000000000000/cancel', { key: KEYS.operator, body: { reason: 'x' } })).status).to.equal(404);
      const placed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody() });
      const res = await h.call('POST', `/orders/${placed.body.orderId}/cancel`, { key: KEYS.otherClient, body: { reason: 'not mine' } });
      expect(res.status).to.equal(404);
    });
  });
});
