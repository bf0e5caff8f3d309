import { expect } from 'chai';
import type { Knex } from 'knex';
import { sandboxRefunds } from '../../payments/sandbox-gateway.js';
import { HAMBURG_ADDRESS as ADDRESS, journey, signed } from '../support/journey.js';
import { anOrderBody, KEYS, NO_FRAUD_HOLDS, startHarness, type Harness } from '../support/service-harness.js';
import { uniqueName } from '../support/test-env.js';

// Returns through the API and the real jobs: a delivered order's units asked back, received at a
// warehouse (resellable back to stock, damaged into quarantine), refunded per receipt by the
// refund job under the gateway's own records, the policy's refusals, a refund the gateway refuses
// and its retry, two receipts recorded at once, and an exchange.

/** The amounts the sandbox gateway refunded for an order: its own records. */
const gatewayRefunds = async (knex: Knex, orderId: string) => (await sandboxRefunds(knex, orderId)).map((r) => r.amount);

describe('returns and refunds (API)', function () {
  this.timeout(90_000);
  let h: Harness;
  before(async () => {
    h = await startHarness({ ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_GATEWAY_LATENCY_MS: '5', EXCHANGE_SHIPS_AT: 'request' });
    for (const l of [{ id: 'wh-ret', geo: { lat: 53.6, lon: 10.0 } }, { id: 'wh-ret2', geo: { lat: 48.1, lon: 11.6 } }]) {
      const r = await h.call('PUT', `/locations/${l.id}`, { key: KEYS.operator, body: { name: l.id, type: 'warehouse', geo: l.geo, canShip: true, canPickup: false, handlingCost: 100 } });
      expect(r.status).to.be.oneOf([200, 201]);
    }
  });
  after(async () => { await h.stop(); });

  const op = { key: KEYS.operator };
  const { receive, order, until, fulfilmentsOf, pickAndPack } = journey({ call: (...args) => h.call(...args) });

  /** An order placed at wh-ret, shipped and delivered by webhook; answers its id once delivered and captured. */
  async function delivered(lines: { sku: string; quantity: number; unitPrice: number }[], extra: Record<string, unknown> = {}, stocked = 20): Promise<string> {
    for (const l of lines) await receive(l.sku, 'wh-ret', stocked);
    const placed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ customer: { id: uniqueName('c') }, lines, delivery: { method: 'ship', speed: 'standard', address: ADDRESS }, ...extra }) });
    expect(placed.status).to.equal(201);
    const id = placed.body.orderId;
    const [f] = await fulfilmentsOf(id, 1);
    const { shipment } = await pickAndPack(f);
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op)).status).to.equal(200);
    const update = { trackingNumber: shipment.trackingNumber, status: 'delivered', at: new Date().toISOString() };
    expect((await h.call('POST', `/carriers/${shipment.carrierId}/tracking`, signed(shipment.carrierId, update))).status).to.equal(200);
    await until(async () => { const o = await order(id); return o.status === 'delivered' && o.payment.status === 'captured' ? o : undefined; });
    return id;
  }
  const ask = (orderId: string, lines: { sku: string; quantity: number }[], extra: Record<string, unknown> = {}, key: string = KEYS.client) =>
    h.call('POST', `/orders/${orderId}/returns`, { key, body: { lines: lines.map((l) => ({ ...l, reason: 'does not fit' })), resolution: 'refund', ...extra } });
  const receiveAt = (returnId: string, lines: { sku: string; quantity: number; condition: string }[], locationId = 'wh-ret') =>
    h.call('POST', `/returns/${returnId}/receive`, { ...op, body: { locationId, lines } });
  const returned = (id: string, probe: (r: any) => boolean) => until(async () => { const r = (await h.call('GET', `/returns/${id}`, op)).body; return probe(r) ? r : undefined; });
  const stockAt = async (sku: string, locationId: string) => (await h.call('GET', `/inventory/${sku}`, op)).body.locations.find((l: { locationId: string }) => l.locationId === locationId);

  it('delivered -> return requested -> received resellable -> the units available again -> refunded, the customer told at each step', async () => {
    const sku = uniqueName('RSKU').slice(0, 40);
    const id = await delivered([{ sku, quantity: 2, unitPrice: 1500 }]);
    const asked = await ask(id, [{ sku, quantity: 1 }]);
    expect(asked.status).to.equal(201);
    expect(asked.body).to.include({ orderId: id, status: 'requested' });
    const returnId = asked.body.returnId;
    expect((await stockAt(sku, 'wh-ret'))).to.include({ onHand: 18, available: 18 });
    const got = await receiveAt(returnId, [{ sku, quantity: 1, condition: 'resellable' }]);
    expect(got.status).to.equal(200);
    expect(got.body).to.include({ returnId, status: 'received' });
    const done = await returned(returnId, (r) => r.status === 'refunded');
    expect(done.refund).to.include({ amount: 1500, status: 'refunded' });
    expect(done.received).to.deep.equal([{ receiptId: got.body.receiptId, sku, quantity: 1, condition: 'resellable', locationId: 'wh-ret', at: done.received[0].at }]);
    // Received at once: the label job may have chosen a carrier, or labelled it, before the receipt.
    const LABEL_STEPS = ['ReturnCarrierChosen', 'ReturnLabelled'];
    expect(done.timeline.map((t: { type: string }) => t.type).filter((t: string) => !LABEL_STEPS.includes(t))).to.deep.equal(['ReturnOpened', 'ReturnReceived', 'ReturnRefunded']);
    await until(async () => { const s = await stockAt(sku, 'wh-ret'); return s.onHand === 19 && s.available === 19 ? s : undefined; });
    const o = await until(async () => { const x = await order(id); return x.payment.refunded === 1500 ? x : undefined; });
    expect(o.payment).to.include({ captured: 3000, refunded: 1500, status: 'partially_refunded' });
    expect(o.returns.map((r: { returnId: string; status: string }) => [r.returnId, r.status])).to.deep.equal([[returnId, 'refunded']]);
    expect(o.timeline.map((t: { type: string }) => t.type)).to.include.members(['OrderReturnAuthorized', 'OrderRefundRequested', 'PaymentRefunded']);
    expect(await gatewayRefunds(h.service.knex, id)).to.deep.equal([1500]);
    const told = await until(async () => {
      const kinds = (await h.service.knex('notifications').where({ order_id: id })).map((n: { kind: string }) => n.kind);
      return kinds.includes('refund_issued') ? kinds : undefined;
    });
    expect(told).to.include.members(['return_received', 'refund_issued']);
    // The client sees its own return, another client none of it.
    expect((await h.call('GET', `/returns/${returnId}`, { key: KEYS.client })).status).to.equal(200);
    expect((await h.call('GET', `/returns/${returnId}`, { key: KEYS.otherClient })).status).to.equal(404);
    expect((await ask(id, [{ sku, quantity: 1 }], {}, KEYS.otherClient)).status).to.equal(404);
  });

  it('quarantines a damaged unit and still refunds it; a partial receipt refunds only what arrived, the last one the shipping too', async () => {
    const sku = uniqueName('DSKU').slice(0, 40);
    const id = await delivered([{ sku, quantity: 3, unitPrice: 1000 }], { shippingPrice: 490 });
    const { returnId } = (await ask(id, [{ sku, quantity: 3 }])).body;
    const first = await receiveAt(returnId, [{ sku, quantity: 1, condition: 'damaged' }]);
    expect(first.body.status).to.equal('partially_received');
    const partly = await returned(returnId, (r) => r.refund?.amount === 1000);
    expect(partly.status).to.equal('partially_received');
    await until(async () => { const s = await stockAt(sku, 'wh-ret'); return s.onHand === 18 && s.quarantined === 1 && s.available === 17 ? s : undefined; });
    expect((await receiveAt(returnId, [{ sku, quantity: 3, condition: 'resellable' }])).status).to.equal(409);
    await receiveAt(returnId, [{ sku, quantity: 2, condition: 'resellable' }]);
    const done = await returned(returnId, (r) => r.status === 'refunded');
    expect(done.refund.amount).to.equal(3490);
    expect(await gatewayRefunds(h.service.knex, id)).to.have.members([1000, 2490]);
    expect((await order(id)).payment).to.include({ captured: 3490, refunded: 3490, status: 'refunded' });
  });

  it('refuses, with the rule in the code and nothing written, more than shipped, units already being returned, and units not delivered', async () => {
    const sku = uniqueName('PSKU').slice(0, 40);
    const id = await delivered([{ sku, quantity: 2, unitPrice: 700 }]);
    const more = await ask(id, [{ sku, quantity: 3 }]);
    expect([more.status, more.body.code]).to.deep.equal([409, 'return.exceeds_shipped']);
    const first = await ask(id, [{ sku, quantity: 2 }]);
    expect(first.status).to.equal(201);
    const again = await ask(id, [{ sku, quantity: 1 }]);
    expect([again.status, again.body.code]).to.deep.equal([409, 'return.already_returned']);
    const listed = (await h.call('GET', `/returns?limit=200&minPosition=${first.body.position}`, op)).body.returns;
    expect(listed.filter((r: { orderId: string }) => r.orderId === id).map((r: { returnId: string }) => r.returnId)).to.deep.equal([first.body.returnId]);
    // Shipped, not delivered yet.
    const other = uniqueName('NSKU').slice(0, 40);
    await receive(other, 'wh-ret', 5);
    const placed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ lines: [{ sku: other, quantity: 1, unitPrice: 900 }], delivery: { method: 'ship', speed: 'standard', address: ADDRESS } }) });
    const [f] = await fulfilmentsOf(placed.body.orderId, 1);
    await pickAndPack(f);
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op)).status).to.equal(200);
    await until(async () => ((await order(placed.body.orderId)).status === 'shipped' ? true : undefined));
    const early = await ask(placed.body.orderId, [{ sku: other, quantity: 1 }]);
    expect([early.status, early.body.code]).to.deep.equal([409, 'return.not_delivered']);
    expect((await ask(id, [{ sku, quantity: 1 }], { resolution: 'swap' })).status).to.equal(400);
  });

  it('shows a refund the gateway refuses (RefundFailed, the failed job listed) and its retry refunds once', async () => {
    const sku = uniqueName('FSKU').slice(0, 40);
    const id = await delivered([{ sku, quantity: 1, unitPrice: 2500 }], { payment: { method: 'card', token: 'tok_refund_refused_once' } });
    const { returnId } = (await ask(id, [{ sku, quantity: 1 }])).body;
    await receiveAt(returnId, [{ sku, quantity: 1, condition: 'resellable' }]);
    const failed = await returned(returnId, (r) => r.refund?.status === 'failed');
    expect(failed.refund.failure).to.include({ code: 'refund_refused' });
    expect(failed.timeline.map((t: { type: string }) => t.type)).to.include('RefundFailed');
    const job = await until(async () => (await h.call('GET', '/jobs/failed', op)).body.jobs.find((j: { returnId: string | null }) => j.returnId === returnId));
    expect(job).to.include({ queue: 'refunds', orderId: id });
    expect(job.reason).to.match(/refund_refused/);
    expect((await h.call('POST', `/jobs/${job.jobId}/retry`, op)).status).to.equal(202);
    const done = await returned(returnId, (r) => r.status === 'refunded');
    expect(done.refund).to.include({ amount: 2500, status: 'refunded' });
    expect(await gatewayRefunds(h.service.knex, id)).to.deep.equal([2500]);
  });

  it('two receipts of one return recorded at the same moment never refund more than was captured', async () => {
    const sku = uniqueName('CSKU').slice(0, 40);
    const id = await delivered([{ sku, quantity: 2, unitPrice: 1000 }], { shippingPrice: 500 });
    const { returnId } = (await ask(id, [{ sku, quantity: 2 }])).body;
    const [a, b] = await Promise.all([receiveAt(returnId, [{ sku, quantity: 1, condition: 'resellable' }]), receiveAt(returnId, [{ sku, quantity: 1, condition: 'resellable' }], 'wh-ret2')]);
    expect([a.status, b.status]).to.deep.equal([200, 200]);
    const done = await returned(returnId, (r) => r.status === 'refunded');
    expect(done.refund.amount).to.equal(2500);
    const refunds = await gatewayRefunds(h.service.knex, id);
    expect(refunds.reduce((x, y) => x + y, 0)).to.equal(2500);
    expect(refunds).to.have.length(2);
    const settled = await until(async () => { const o = await order(id); return o.payment.refunded === 2500 ? o : undefined; });
    expect(settled.payment).to.include({ captured: 2500, refunded: 2500 });
  });

  it('puts a resellable unit back where it arrived, for the orders backordered on its SKU, the oldest first', async () => {
    const sku = uniqueName('BSKU').slice(0, 40);
    const id = await delivered([{ sku, quantity: 1, unitPrice: 1100 }], {}, 1);
    const waiting: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ customer: { id: uniqueName('c') }, lines: [{ sku, quantity: 1, unitPrice: 1100 }], delivery: { method: 'ship', speed: 'standard', address: ADDRESS } }) });
      waiting.push(r.body.orderId as string);
      await until(async () => ((await order(r.body.orderId)).status === 'backordered' ? true : undefined));
    }
    const { returnId } = (await ask(id, [{ sku, quantity: 1 }])).body;
    await receiveAt(returnId, [{ sku, quantity: 1, condition: 'resellable' }]);
    const first = await until(async () => { const o = await order(waiting[0]); return o.status === 'released' ? o : undefined; });
    expect(first.allocations.map((a: { locationId: string }) => a.locationId)).to.deep.equal(['wh-ret']);
    expect((await order(waiting[1])).status).to.equal('backordered');
  });

  it('an exchange orders its replacement (linked, same customer and card), which ships; receiving the return settles it', async () => {
    const sku = uniqueName('XSKU').slice(0, 40);
    const swap = uniqueName('XSWP').slice(0, 40);
    await receive(swap, 'wh-ret', 5);
    const id = await delivered([{ sku, quantity: 1, unitPrice: 1800 }]);
    const asked = await ask(id, [{ sku, quantity: 1 }], { resolution: 'exchange', exchangeLines: [{ sku: swap, quantity: 1 }] });
    expect(asked.status).to.equal(201);
    const linked = await returned(asked.body.returnId, (r) => typeof r.exchangeOrderId === 'string');
    const replacement = await until(async () => { const o = await order(linked.exchangeOrderId); return o.status === 'released' ? o : undefined; });
    expect(replacement).to.include({ channel: 'marketplace', total: 1800 });
    expect(replacement.lines).to.deep.equal([{ sku: swap, quantity: 1, unitPrice: 1800 }]);
    const [f] = await fulfilmentsOf(replacement.orderId, 1);
    await pickAndPack(f);
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op)).status).to.equal(200);
    await until(async () => ((await order(replacement.orderId)).payment.captured === 1800 ? true : undefined));
    await receiveAt(asked.body.returnId, [{ sku, quantity: 1, condition: 'resellable' }]);
    const done = await returned(asked.body.returnId, (r) => r.status === 'exchanged');
    expect(done.refund.amount).to.equal(1800);
  });
});

describe('returns outside the window (API)', function () {
  this.timeout(60_000);
  let h: Harness;
  // A window of about a second and a half, so a delivery can age past it within the test.
  before(async () => { h = await startHarness({ ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_GATEWAY_LATENCY_MS: '5', RETURN_WINDOW_DAYS: '0.00002' }); });
  after(async () => { await h.stop(); });

  it('refuses units delivered longer ago than RETURN_WINDOW_DAYS: 409 return.window_closed, nothing written', async () => {
    const op = { key: KEYS.operator };
    const { receive, fulfilmentsOf, pickAndPack, until, order } = journey({ call: (...args) => h.call(...args) });
    await h.call('PUT', '/locations/wh-w', { ...op, body: { name: 'WH', type: 'warehouse', geo: { lat: 53.6, lon: 10.0 }, canShip: true, canPickup: false, handlingCost: 100 } });
    const sku = uniqueName('WSKU').slice(0, 40);
    await receive(sku, 'wh-w', 5);
    const placed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ lines: [{ sku, quantity: 1, unitPrice: 900 }], delivery: { method: 'ship', speed: 'standard', address: ADDRESS } }) });
    const [f] = await fulfilmentsOf(placed.body.orderId, 1);
    const { shipment } = await pickAndPack(f);
    await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op);
    await h.call('POST', `/carriers/${shipment.carrierId}/tracking`, signed(shipment.carrierId, { trackingNumber: shipment.trackingNumber, status: 'delivered', at: new Date().toISOString() }));
    await until(async () => ((await order(placed.body.orderId)).status === 'delivered' ? true : undefined));
    await new Promise((r) => setTimeout(r, 2000));
    const late = await h.call('POST', `/orders/${placed.body.orderId}/returns`, { key: KEYS.client, body: { lines: [{ sku, quantity: 1, reason: 'late' }], resolution: 'refund' } });
    expect([late.status, late.body.code]).to.deep.equal([409, 'return.window_closed']);
    expect((await order(placed.body.orderId)).returns).to.deep.equal([]);
  });
});
