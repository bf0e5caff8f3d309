import { expect } from 'chai';
import { sandboxLabels } from '../../carriers/sandbox-carriers.js';
import { sandboxRecords } from '../../payments/sandbox-gateway.js';
import { transferIdFor } from '../../write-side/fulfilments/fulfilment.decider.js';
import { HAMBURG_ADDRESS as ADDRESS, journey, signed } from '../support/journey.js';
import { KEYS, NO_FRAUD_HOLDS, startHarness, type Harness } from '../support/service-harness.js';
import { uniqueName } from '../support/test-env.js';

// From release to the doorstep, through the API and the real jobs: fulfilments per location,
// pick, pack, a label bought by the carrier job, the handover, captures per shipment, tracking by
// signed webhook, re-routing a store's reject and a short pick, and pickup in store, with the
// units a store lacks sent there on a transfer first.

describe('fulfilment, carriers and pickup (API)', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await startHarness({ ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_GATEWAY_LATENCY_MS: '5', PICKUP_EXPIRY_HOURS: '0.0006' });
    const locations = [
      { id: 'wh-hh', type: 'warehouse', geo: { lat: 53.6, lon: 10.0 }, canPickup: false },
      { id: 'wh-muc', type: 'warehouse', geo: { lat: 48.1, lon: 11.6 }, canPickup: false },
      { id: 'store-hh', type: 'store', geo: { lat: 53.55, lon: 9.99 }, canPickup: true },
    ];
    for (const l of locations) {
      const r = await h.call('PUT', `/locations/${l.id}`, { key: KEYS.operator, body: { name: l.id, type: l.type, geo: l.geo, canShip: true, canPickup: l.canPickup, handlingCost: l.type === 'store' ? 400 : 100 } });
      expect(r.status).to.be.oneOf([200, 201]);
    }
  });
  after(async () => { await h.stop(); });

  const op = { key: KEYS.operator };
  const { receive, place, order, until, fulfilmentsOf, fulfilment, pickAndPack } = journey({ call: (...args) => h.call(...args) });

  it('ships one location end to end: released, picked, packed, labelled, shipped (captured), delivered by webhook', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'wh-hh', 10);
    const id = await place([{ sku, quantity: 2, unitPrice: 1500 }]);
    const [f] = await fulfilmentsOf(id, 1);
    expect(f).to.include({ locationId: 'wh-hh', status: 'pending' });
    const labelled = await pickAndPack(f);
    expect(labelled.shipment).to.include({ status: 'label_created' });
    expect(labelled.shipment.choice.quotes.length).to.be.at.least(2);
    expect((await sandboxLabels(h.service.knex, f.fulfilmentId))).to.have.length(1);
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op)).status).to.equal(200);
    const shipped = await until(async () => { const o = await order(id); return o.status === 'shipped' && o.payment.status === 'captured' ? o : undefined; });
    expect(shipped.payment).to.include({ captured: 3000 });
    const cancel = await h.call('POST', `/orders/${id}/cancel`, { key: KEYS.client, body: { reason: 'too late' } });
    expect(cancel.status).to.equal(409);
    const { carrierId, trackingNumber } = labelled.shipment;
    const update = { trackingNumber, status: 'delivered', at: new Date().toISOString() };
    expect((await h.call('POST', `/carriers/${carrierId}/tracking`, signed(carrierId, update))).status).to.equal(200);
    const delivered = await until(async () => { const o = await order(id); return o.status === 'delivered' && o.shipments[0]?.status === 'delivered' ? o : undefined; });
    expect(delivered.shipments[0]).to.include({ fulfilmentId: f.fulfilmentId, carrierId, trackingNumber, locationId: 'wh-hh' });
    expect(delivered.shipments[0].events.map((e: { status: string }) => e.status)).to.deep.equal(['delivered']);
    const stock = (await h.call('GET', `/inventory/${sku}`, op)).body;
    expect(stock.totals).to.include({ onHand: 8, reserved: 0 });
  });

  it('refuses tracking updates that are unsigned, badly signed, stale or for unknown tracking numbers, and records the same update once', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'wh-hh', 5);
    const id = await place([{ sku, quantity: 1, unitPrice: 1000 }]);
    const [f] = await fulfilmentsOf(id, 1);
    const { shipment } = await pickAndPack(f);
    const update = { trackingNumber: shipment.trackingNumber, status: 'in_transit', at: new Date().toISOString() };
    const path = `/carriers/${shipment.carrierId}/tracking`;
    expect((await h.call('POST', path, { key: null, body: update })).status).to.equal(401);
    expect((await h.call('POST', path, signed(shipment.carrierId, update, 'wrong-secret'))).status).to.equal(401);
    expect((await h.call('POST', path, signed(shipment.carrierId, update, undefined, Math.floor(Date.now() / 1000) - 600))).status).to.equal(401);
    expect((await h.call('POST', path, signed(shipment.carrierId, { ...update, trackingNumber: 'NOPE123' }))).status).to.equal(404);
    const first = await h.call('POST', path, signed(shipment.carrierId, update));
    const again = await h.call('POST', path, signed(shipment.carrierId, update));
    expect([first.body.recorded, again.body.recorded]).to.deep.equal([true, false]);
    const older = { ...update, status: 'label_created', at: new Date(Date.now() - 3600_000).toISOString() };
    expect((await h.call('POST', path, signed(shipment.carrierId, older))).status).to.equal(200);
    const seen = await until(async () => { const x = await fulfilment(f.fulfilmentId); return x.shipment.events.length === 2 ? x : undefined; });
    expect(seen.shipment.status).to.equal('in_transit');
  });

  it('splits an order across two locations: partially shipped, then shipped, captures summing to the total', async () => {
    const a = uniqueName('SKUA').slice(0, 40);
    const b = uniqueName('SKUB').slice(0, 40);
    await receive(a, 'wh-hh', 3);
    await receive(b, 'wh-muc', 3);
    const id = await place([{ sku: a, quantity: 1, unitPrice: 1000 }, { sku: b, quantity: 1, unitPrice: 2500 }]);
    const both = await fulfilmentsOf(id, 2);
    const [first, second] = both.sort((x, y) => x.locationId.localeCompare(y.locationId));
    await pickAndPack(first);
    await h.call('POST', `/fulfilments/${first.fulfilmentId}/ship`, op);
    await until(async () => ((await order(id)).status === 'partially_shipped' ? true : undefined));
    await pickAndPack(second);
    await h.call('POST', `/fulfilments/${second.fulfilmentId}/ship`, op);
    const done = await until(async () => { const o = await order(id); return o.status === 'shipped' && o.payment.captured === 3500 ? o : undefined; });
    expect(done.payment).to.include({ authorized: 3500, captured: 3500 });
    expect((await sandboxRecords(h.service.knex, id)).authorizations[0]).to.include({ captured: 3500 });
  });

  it('ships from a store: a ship order allocated at a store that ships is labelled, collected and shipped from there', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'store-hh', 3);
    await receive(sku, 'wh-muc', 3);
    const id = await place([{ sku, quantity: 2, unitPrice: 1250 }]);
    const [f] = await fulfilmentsOf(id, 1);
    expect(f).to.include({ locationId: 'store-hh', kind: 'ship' });
    const labelled = await pickAndPack(f);
    expect(labelled.shipment).to.include({ locationId: 'store-hh', status: 'label_created' });
    const [made] = await h.service.knex('sandbox_carrier_labels').where({ reference: f.fulfilmentId }).select('request');
    expect(made.request.from.locationId, 'where the carrier collects the parcel').to.equal('store-hh');
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op)).status).to.equal(200);
    const shipped = await until(async () => { const o = await order(id); return o.status === 'shipped' && o.payment.status === 'captured' ? o : undefined; });
    expect(shipped.payment).to.include({ captured: 2500 });
    expect(shipped.shipments.map((s: { locationId: string }) => s.locationId)).to.deep.equal(['store-hh']);
    expect(shipped.allocations.map((a: { locationId: string; status: string }) => `${a.locationId}:${a.status}`)).to.deep.equal(['store-hh:fulfilled']);
    const stock = await until(async () => {
      const s = (await h.call('GET', `/inventory/${sku}`, op)).body;
      return s.totals.onHand === 4 ? s : undefined;
    });
    const at = (locationId: string) => stock.locations.find((l: { locationId: string }) => l.locationId === locationId);
    expect([at('store-hh'), at('wh-muc')].map((l) => [l.onHand, l.reserved])).to.deep.equal([[1, 0], [3, 0]]);
  });

  it('skips a location at its daily capacity: the order goes to the next best, and its allocation says why', async () => {
    const capped = uniqueName('wh-cap').toLowerCase().replace(/_/g, '-').slice(0, 40);
    const put = await h.call('PUT', `/locations/${capped}`, { ...op, body: { name: 'Capped DC', type: 'warehouse', geo: { lat: 53.56, lon: 10.01 }, canShip: true, canPickup: false, handlingCost: 50, dailyCapacity: 1 } });
    expect(put.status).to.equal(201);
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, capped, 5);
    await receive(sku, 'wh-muc', 5);
    const shipTo = { method: 'ship', speed: 'standard', address: ADDRESS };
    const planned = () => h.call('POST', '/availability', { ...op, body: { lines: [{ sku, quantity: 1 }], delivery: shipTo } }).then((r) => r.body);
    // Sourcing sees locations and today's fulfilments as they were at most a second ago: wait for it to see the new one, then for it to see it full.
    await until(async () => ((await planned()).plan[0]?.locationId === capped ? true : undefined));
    const first = await place([{ sku, quantity: 1, unitPrice: 1000 }], shipTo);
    expect((await fulfilmentsOf(first, 1))[0].locationId).to.equal(capped);
    const full = await until(async () => { const p = await planned(); return p.plan[0]?.locationId === 'wh-muc' ? p : undefined; });
    const reason = 'at daily capacity: 1 of 1 fulfilments today';
    expect(full.candidates.find((c: { locationId: string }) => c.locationId === capped)).to.include({ eligible: false, reason });

    const second = await place([{ sku, quantity: 1, unitPrice: 1000 }], shipTo);
    expect((await fulfilmentsOf(second, 1))[0].locationId).to.equal('wh-muc');
    const o = await order(second);
    expect(o.allocations.map((a: { locationId: string; status: string }) => `${a.locationId}:${a.status}`)).to.deep.equal(['wh-muc:reserved']);
    const allocated = o.timeline.find((t: { type: string }) => t.type === 'OrderAllocated');
    expect(allocated.candidates.find((c: { locationId: string }) => c.locationId === capped)).to.include({ eligible: false, reason });
  });

  it('re-routes a store\'s reject to the next best location, and re-sources a short pick after writing the missing units off', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'store-hh', 4);
    await receive(sku, 'wh-muc', 4);
    const id = await place([{ sku, quantity: 2, unitPrice: 1000 }]);
    const [f] = await fulfilmentsOf(id, 1);
    expect(f.locationId).to.equal('store-hh');
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/reject`, { ...op, body: { reason: 'too busy' } })).status).to.equal(200);
    const moved = await until(async () => {
      const all = (await h.call('GET', '/fulfilments?limit=200', op)).body.fulfilments.filter((x: { orderId: string; status: string; fulfilmentId: string }) => x.orderId === id && x.status === 'pending' && x.fulfilmentId !== f.fulfilmentId);
      return all.length === 1 ? all[0] : undefined;
    });
    expect(moved.locationId).to.equal('wh-muc');
    // A short pick at wh-muc: one unit found; the other is written off and sourced elsewhere (nowhere has it but the store that refused).
    expect((await h.call('POST', `/fulfilments/${moved.fulfilmentId}/pick`, { ...op, body: { lines: [{ sku, quantity: 1 }] } })).status).to.equal(200);
    await until(async () => {
      const stock = (await h.call('GET', `/inventory/${sku}`, op)).body;
      const muc = stock.locations.find((l: { locationId: string }) => l.locationId === 'wh-muc');
      return muc && muc.onHand === 3 ? true : undefined;
    });
    // Only the store that refused has the unit: it waits for stock, the order still shipping what wh-muc picked.
    const o = await until(async () => { const x = await order(id); return x.backorder ? x : undefined; });
    expect(o).to.deep.include({ status: 'released', backorder: { missing: [{ sku, quantity: 1 }], why: o.backorder.why } });
    expect(o.allocations.map((x: { locationId: string; status: string }) => `${x.locationId}:${x.status}`)).to.include('store-hh:released');
  });

  /** The order's allocations as `location:status:units` of the SKU, and the units they hold reserved at each location. */
  const allocationsOf = (o: { allocations: { locationId: string; status: string; lines: { sku: string; quantity: number }[] }[] }, sku: string) => ({
    listed: o.allocations.map((a) => `${a.locationId}:${a.status}`),
    reserved: o.allocations.filter((a) => a.status === 'reserved').reduce<Record<string, number>>((m, a) => {
      const units = a.lines.filter((l) => l.sku === sku).reduce((n, l) => n + l.quantity, 0);
      return units > 0 ? { ...m, [a.locationId]: (m[a.locationId] ?? 0) + units } : m;
    }, {}),
  });
  /** The stock read model's reserved units of the SKU at each location that has any. */
  const stockReserved = async (sku: string): Promise<Record<string, number>> => {
    const stock = (await h.call('GET', `/inventory/${sku}`, op)).body;
    return Object.fromEntries(stock.locations.filter((l: { reserved: number }) => l.reserved > 0).map((l: { locationId: string; reserved: number }) => [l.locationId, l.reserved]));
  };

  it('backorders a reject no other location can fill: the rejecting store\'s stock released, the order backordered until stock arrives elsewhere, then shipped and captured in full', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'store-hh', 4);
    const id = await place([{ sku, quantity: 2, unitPrice: 1500 }]);
    const [f] = await fulfilmentsOf(id, 1);
    expect(f.locationId).to.equal('store-hh');
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/reject`, { ...op, body: { reason: 'not on the shelf' } })).status).to.equal(200);

    const waiting = await until(async () => { const o = await order(id); return o.status === 'backordered' ? o : undefined; });
    expect(waiting.backorder.missing).to.deep.equal([{ sku, quantity: 2 }]);
    expect(waiting.payment).to.include({ status: 'authorized', authorized: 3000, captured: 0 });
    const given = waiting.timeline.find((t: { type: string }) => t.type === 'OrderReallocated');
    expect(given).to.deep.include({ cause: 'rejected', fulfilmentId: f.fulfilmentId, locations: [], backordered: [{ sku, quantity: 2 }] });
    expect(given.released).to.deep.equal([{ locationId: 'store-hh', lines: [{ sku, quantity: 2 }] }]);
    const released = await until(async () => { const r = await stockReserved(sku); return Object.keys(r).length === 0 ? r : undefined; });
    expect(allocationsOf(waiting, sku)).to.deep.equal({ listed: ['store-hh:released'], reserved: released });

    // Stock arrives at a location that did not refuse the lines: the backorder job sources them there.
    await receive(sku, 'wh-muc', 3);
    const filled = await until(async () => { const o = await order(id); return o.status === 'released' && o.backorder === null ? o : undefined; });
    expect(allocationsOf(filled, sku)).to.deep.equal({ listed: ['store-hh:released', 'wh-muc:reserved'], reserved: { 'wh-muc': 2 } });
    expect(await until(async () => { const r = await stockReserved(sku); return r['wh-muc'] === 2 ? r : undefined; })).to.deep.equal({ 'wh-muc': 2 });
    expect(filled.timeline.filter((t: { type: string }) => t.type === 'OrderReallocated').map((t: { cause: string }) => t.cause)).to.deep.equal(['rejected', 'backorder']);
    const next = (await fulfilmentsOf(id, 2)).find((x) => x.fulfilmentId !== f.fulfilmentId)!;
    expect(next).to.include({ locationId: 'wh-muc', status: 'pending' });
    await pickAndPack(next);
    expect((await h.call('POST', `/fulfilments/${next.fulfilmentId}/ship`, op)).status).to.equal(200);
    const shipped = await until(async () => { const o = await order(id); return o.status === 'shipped' && o.payment.status === 'captured' ? o : undefined; });
    expect(shipped.payment).to.include({ authorized: 3000, captured: 3000 });
  });

  it('sends lines two locations rejected in turn to a third, never back to the first', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    for (const at of ['wh-hh', 'store-hh', 'wh-muc']) await receive(sku, at, 5);
    const id = await place([{ sku, quantity: 2, unitPrice: 1000 }]);
    const pending = (locationId: string) => until(async () => {
      const mine = (await fulfilmentsOf(id, 1)).filter((x) => x.locationId === locationId && x.status === 'pending');
      return mine.length === 1 ? mine[0] : undefined;
    });
    const first = await pending('wh-hh');
    expect((await h.call('POST', `/fulfilments/${first.fulfilmentId}/reject`, { ...op, body: { reason: 'too busy' } })).status).to.equal(200);
    const second = await pending('store-hh');
    expect((await h.call('POST', `/fulfilments/${second.fulfilmentId}/reject`, { ...op, body: { reason: 'too busy' } })).status).to.equal(200);
    const third = await pending('wh-muc');
    expect(third.lines.map((l) => [l.sku, l.quantity])).to.deep.equal([[sku, 2]]);
    const o = await until(async () => {
      const x = await order(id);
      return x.allocations.some((a: { locationId: string; status: string }) => a.locationId === 'wh-muc' && a.status === 'reserved') ? x : undefined;
    });
    expect(allocationsOf(o, sku)).to.deep.equal({ listed: ['wh-hh:released', 'store-hh:released', 'wh-muc:reserved'], reserved: { 'wh-muc': 2 } });
    const reallocations = o.timeline.filter((t: { type: string }) => t.type === 'OrderReallocated');
    expect(reallocations.map((t: { fulfilmentId: string; locations: string[] }) => [t.fulfilmentId, t.locations])).to.deep.equal([[first.fulfilmentId, ['store-hh']], [second.fulfilmentId, ['wh-muc']]]);
    const excluded = reallocations[1].candidates.filter((c: { reason: string }) => c.reason.startsWith('excluded')).map((c: { locationId: string }) => c.locationId).sort();
    expect(excluded).to.deep.equal(['store-hh', 'wh-hh']);
    expect(await until(async () => { const r = await stockReserved(sku); return Object.keys(r).length === 1 ? r : undefined; })).to.deep.equal({ 'wh-muc': 2 });
  });

  it('pickup in store: ready with a code, a wrong code refused, collected with the right one (captured)', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'store-hh', 3);
    const id = await place([{ sku, quantity: 1, unitPrice: 2000 }], { method: 'pickup', locationId: 'store-hh' });
    const [f] = await fulfilmentsOf(id, 1);
    expect(f.kind).to.equal('pickup');
    await h.call('POST', `/fulfilments/${f.fulfilmentId}/pick`, { ...op, body: { lines: [{ sku, quantity: 1 }] } });
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ready`, op)).status).to.equal(200);
    const ready = await until(async () => { const o = (await h.call('GET', `/orders/${id}`, { key: KEYS.client })).body; return o.status === 'ready_for_pickup' && o.pickup ? o : undefined; });
    const code = ready.pickup.code as string;
    const wrong = code === '000000' ? '111111' : '000000';
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/collect`, { ...op, body: { code: wrong } })).status).to.equal(409);
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/collect`, { ...op, body: { code } })).status).to.equal(200);
    const collected = await until(async () => { const o = await order(id); return o.status === 'collected' && o.payment.status === 'captured' ? o : undefined; });
    expect(collected.payment.captured).to.equal(2000);
  });

  it('pickup not collected by its expiry: the order is cancelled (not_collected), its stock back, its payment voided', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'store-hh', 2);
    const id = await place([{ sku, quantity: 1, unitPrice: 2000 }], { method: 'pickup', locationId: 'store-hh' });
    const [f] = await fulfilmentsOf(id, 1);
    await h.call('POST', `/fulfilments/${f.fulfilmentId}/pick`, { ...op, body: { lines: [{ sku, quantity: 1 }] } });
    await h.call('POST', `/fulfilments/${f.fulfilmentId}/ready`, op);
    const cancelled = await until(async () => { const o = await order(id); return o.status === 'cancelled' && o.payment.status === 'voided' ? o : undefined; });
    expect(cancelled.timeline.find((t: { type: string }) => t.type === 'OrderCancelled').reason).to.equal('not_collected');
    await until(async () => ((await h.call('GET', `/inventory/${sku}`, op)).body.totals.reserved === 0 ? true : undefined));
    expect((await fulfilment(f.fulfilmentId)).status).to.equal('expired');
  });

  describe('a pickup whose store holds 1 of 3 units, the other 2 at a warehouse', () => {
    type Stock = { onHand: number; reserved: number; available: number; inTransit: number };
    /** The SKU's stock at each location once the stock read model shows `ready` of it. */
    const stockWhen = async (sku: string, ready: (at: (l: string) => Stock) => boolean) => until(async () => {
      const s = (await h.call('GET', `/inventory/${sku}`, op)).body;
      const at = (locationId: string): Stock => {
        const l = s.locations?.find((x: { locationId: string }) => x.locationId === locationId);
        return l ? { onHand: l.onHand, reserved: l.reserved, available: l.available, inTransit: l.inTransit } : { onHand: 0, reserved: 0, available: 0, inTransit: 0 };
      };
      return ready(at) ? at : undefined;
    });
    const same = (a: Stock, b: Partial<Stock>) => Object.entries(b).every(([k, v]) => a[k as keyof Stock] === v);

    /** Places the order; answers it with its pickup at store-hh and its transfer from wh-hh. */
    async function placed(sku: string) {
      await receive(sku, 'store-hh', 1);
      await receive(sku, 'wh-hh', 2);
      const id = await place([{ sku, quantity: 3, unitPrice: 1500 }], { method: 'pickup', locationId: 'store-hh' });
      const both = await fulfilmentsOf(id, 2);
      const pickup = both.find((f) => f.kind === 'pickup')!;
      const transfer = both.find((f) => f.kind === 'transfer')!;
      return { id, pickup, transfer };
    }

    async function sendTransfer(transfer: { fulfilmentId: string }, sku: string) {
      const lines = [{ sku, quantity: 2 }];
      expect((await h.call('POST', `/fulfilments/${transfer.fulfilmentId}/pick`, { ...op, body: { lines } })).status).to.equal(200);
      expect((await h.call('POST', `/fulfilments/${transfer.fulfilmentId}/pack`, { ...op, body: { packages: [{ weightGrams: 900, lengthCm: 30, widthCm: 20, heightCm: 10, lines }] } })).status).to.equal(202);
      const shipped = await h.call('POST', `/fulfilments/${transfer.fulfilmentId}/ship`, op);
      expect(shipped.status).to.equal(200);
      expect(shipped.body.status).to.equal('in_transit');
    }

    it('sends the 2 on a transfer from the warehouse, refuses ready (409) until the store received it, then is collected and captured once for the total', async () => {
      const sku = uniqueName('SKU').slice(0, 40);
      const { id, pickup, transfer } = await placed(sku);
      expect(pickup).to.include({ locationId: 'store-hh', status: 'pending' });
      expect(pickup.lines.map((l) => l.quantity)).to.deep.equal([3]);
      expect(transfer).to.include({ locationId: 'wh-hh', status: 'pending' });
      expect((transfer as unknown as { transfer: { to: string; pickupFulfilmentId: string } }).transfer).to.include({ to: 'store-hh', pickupFulfilmentId: pickup.fulfilmentId });
      expect((await fulfilment(pickup.fulfilmentId)).inbound).to.deep.equal([{ fulfilmentId: transfer.fulfilmentId, from: 'wh-hh', lines: [{ sku, quantity: 2 }], status: 'awaited' }]);

      const early = await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/pick`, { ...op, body: { lines: [{ sku, quantity: 3 }] } });
      expect([early.status, early.body.code]).to.deep.equal([409, 'fulfilment.awaiting_transfer']);

      await sendTransfer(transfer, sku);
      expect(await sandboxLabels(h.service.knex, transfer.fulfilmentId), 'a transfer travels without a carrier label').to.have.length(0);
      const notReady = await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/ready`, op);
      expect([notReady.status, notReady.body.code]).to.deep.equal([409, 'fulfilment.awaiting_transfer']);
      const onTheWay = await stockWhen(sku, (at) => at('store-hh').inTransit === 2);
      expect([onTheWay('wh-hh'), onTheWay('store-hh')]).to.deep.equal([
        { onHand: 0, reserved: 0, available: 0, inTransit: 0 }, { onHand: 1, reserved: 1, available: 0, inTransit: 2 },
      ]);
      const sent = await until(async () => { const o = await order(id); return o.allocations.some((a: { status: string }) => a.status === 'in_transit') ? o : undefined; });
      expect(sent).to.deep.include({ status: 'released', shipments: [] });
      expect(sent.payment).to.include({ status: 'authorized', captured: 0 });
      expect(sent.transfers).to.have.length(1);
      expect(sent.transfers[0]).to.include({ fulfilmentId: transfer.fulfilmentId, from: 'wh-hh', to: 'store-hh', status: 'in_transit', receivedAt: null });

      // The stock transfer carrying the order's units is received with its fulfilment, never on its own.
      const alone = await h.call('POST', `/inventory/transfers/${transferIdFor(transfer.fulfilmentId, sku)}/receive`, op);
      expect([alone.status, alone.body.code]).to.deep.equal([409, 'transfer.for_fulfilment']);
      const received = await h.call('POST', `/fulfilments/${transfer.fulfilmentId}/receive`, op);
      expect([received.status, received.body.status]).to.deep.equal([200, 'received']);
      await until(async () => ((await fulfilment(pickup.fulfilmentId)).inbound[0].status === 'arrived' ? true : undefined));
      const atStore = await stockWhen(sku, (at) => at('store-hh').onHand === 3);
      expect(atStore('store-hh')).to.deep.equal({ onHand: 3, reserved: 3, available: 0, inTransit: 0 });

      expect((await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/pick`, { ...op, body: { lines: [{ sku, quantity: 3 }] } })).status).to.equal(200);
      expect((await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/ready`, op)).status).to.equal(200);
      const ready = await until(async () => { const o = (await h.call('GET', `/orders/${id}`, { key: KEYS.client })).body; return o.status === 'ready_for_pickup' && o.pickup ? o : undefined; });
      const code = ready.pickup.code as string;
      expect((await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/collect`, { ...op, body: { code: code === '000000' ? '111111' : '000000' } })).status).to.equal(409);
      expect((await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/collect`, { ...op, body: { code } })).status).to.equal(200);

      const collected = await until(async () => { const o = await order(id); return o.status === 'collected' && o.payment.status === 'captured' ? o : undefined; });
      expect(collected.payment).to.include({ authorized: 4500, captured: 4500 });
      expect(collected.timeline.filter((t: { type: string }) => t.type === 'PaymentCaptured').map((t: { amount: number }) => t.amount)).to.deep.equal([4500]);
      expect((await sandboxRecords(h.service.knex, id)).authorizations.map((a) => a.captured)).to.deep.equal([4500]);
      expect(collected.allocations.map((a: { locationId: string; status: string }) => `${a.locationId}:${a.status}`))
        .to.deep.equal(['store-hh:fulfilled', 'wh-hh:transferred', 'store-hh:fulfilled']);
      const after = await stockWhen(sku, (at) => at('store-hh').onHand === 0);
      expect([after('wh-hh'), after('store-hh')].map((l) => [l.onHand, l.reserved])).to.deep.equal([[0, 0], [0, 0]]);
      const told = await h.service.knex('notifications').where({ order_id: id }).pluck('kind');
      expect(told).to.include('ready_for_pickup');
      expect(told, 'the customer hears nothing of the transfer').to.not.include('order_shipped');
    });

    it('not collected by its expiry after the transfer arrived: the order is cancelled and all 3 units are back to available at the store', async () => {
      const sku = uniqueName('SKU').slice(0, 40);
      const { id, pickup, transfer } = await placed(sku);
      await sendTransfer(transfer, sku);
      expect((await h.call('POST', `/fulfilments/${transfer.fulfilmentId}/receive`, op)).status).to.equal(200);
      await until(async () => ((await fulfilment(pickup.fulfilmentId)).inbound[0].status === 'arrived' ? true : undefined));
      await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/pick`, { ...op, body: { lines: [{ sku, quantity: 3 }] } });
      expect((await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/ready`, op)).status).to.equal(200);
      const cancelled = await until(async () => { const o = await order(id); return o.status === 'cancelled' && o.payment.status === 'voided' ? o : undefined; });
      expect(cancelled.timeline.find((t: { type: string }) => t.type === 'OrderCancelled').reason).to.equal('not_collected');
      const back = await stockWhen(sku, (at) => same(at('store-hh'), { onHand: 3, reserved: 0 }));
      expect([back('wh-hh'), back('store-hh')]).to.deep.equal([
        { onHand: 0, reserved: 0, available: 0, inTransit: 0 }, { onHand: 3, reserved: 0, available: 3, inTransit: 0 },
      ]);
      expect((await fulfilment(pickup.fulfilmentId)).status).to.equal('expired');
      expect((await fulfilment(transfer.fulfilmentId)).status).to.equal('received');
    });

    it('cancelled before the transfer leaves: the transfer and the pickup are cancelled, the units available where they are', async () => {
      const sku = uniqueName('SKU').slice(0, 40);
      const { id, pickup, transfer } = await placed(sku);
      expect((await h.call('POST', `/fulfilments/${transfer.fulfilmentId}/pick`, { ...op, body: { lines: [{ sku, quantity: 2 }] } })).status).to.equal(200);
      expect((await h.call('POST', `/orders/${id}/cancel`, { key: KEYS.client, body: { reason: 'changed my mind' } })).status).to.equal(200);
      await until(async () => ((await fulfilment(transfer.fulfilmentId)).status === 'cancelled' && (await fulfilment(pickup.fulfilmentId)).status === 'cancelled' ? true : undefined));
      const back = await stockWhen(sku, (at) => at('wh-hh').reserved === 0 && at('store-hh').reserved === 0);
      expect([back('wh-hh'), back('store-hh')].map((l) => [l.onHand, l.available])).to.deep.equal([[2, 2], [1, 1]]);
    });

    it('cancelled while the transfer is on its way: received at the store, its units are the store\'s to sell', async () => {
      const sku = uniqueName('SKU').slice(0, 40);
      const { id, pickup, transfer } = await placed(sku);
      await sendTransfer(transfer, sku);
      expect((await h.call('POST', `/orders/${id}/cancel`, { key: KEYS.client, body: { reason: 'changed my mind' } })).status).to.equal(200);
      await until(async () => ((await fulfilment(pickup.fulfilmentId)).status === 'cancelled' ? true : undefined));
      expect((await h.call('POST', `/fulfilments/${transfer.fulfilmentId}/receive`, op)).status).to.equal(200);
      const back = await stockWhen(sku, (at) => at('store-hh').onHand === 3);
      expect([back('wh-hh'), back('store-hh')]).to.deep.equal([
        { onHand: 0, reserved: 0, available: 0, inTransit: 0 }, { onHand: 3, reserved: 0, available: 3, inTransit: 0 },
      ]);
      const o = await until(async () => { const x = await order(id); return x.transfers[0]?.status === 'received' ? x : undefined; });
      expect(o.allocations.filter((a: { status: string }) => a.status === 'reserved')).to.deep.equal([]);
    });

    it('is in the OpenAPI document: the receive step, the transfer kind and statuses, the allocations in transit', async () => {
      const { paths, components } = (await h.call('GET', '/openapi.json', { key: null })).body;
      expect(paths['/fulfilments/{fulfilmentId}/receive'].post).to.be.an('object');
      expect(components.schemas.Fulfilment.properties.kind.enum).to.include('transfer');
      expect(components.schemas.Fulfilment.properties.status.enum).to.include.members(['in_transit', 'received']);
      expect(components.schemas.AllocationStatus.enum).to.include.members(['in_transit', 'transferred']);
    });

    it('a transfer rejected at the warehouse is sourced from the next one, and joins the same pickup (one trip for the customer)', async () => {
      const sku = uniqueName('SKU').slice(0, 40);
      await receive(sku, 'wh-muc', 2);
      const { id, pickup, transfer } = await placed(sku);
      expect(transfer.locationId).to.equal('wh-hh');
      expect((await h.call('POST', `/fulfilments/${transfer.fulfilmentId}/reject`, { ...op, body: { reason: 'too busy' } })).status).to.equal(200);
      const inbound = await until(async () => {
        const p = await fulfilment(pickup.fulfilmentId);
        return p.inbound.length === 2 && p.inbound[0].status === 'dropped' ? p.inbound : undefined;
      });
      expect(inbound[1]).to.include({ from: 'wh-muc', status: 'awaited' });
      const next = await fulfilment(inbound[1].fulfilmentId);
      expect(next).to.deep.include({ kind: 'transfer', locationId: 'wh-muc', status: 'pending' });
      expect(next.transfer).to.include({ to: 'store-hh', pickupFulfilmentId: pickup.fulfilmentId });
      expect((await fulfilment(pickup.fulfilmentId)).lines.map((l: { quantity: number }) => l.quantity)).to.deep.equal([3]);
      await sendTransfer(next, sku);
      expect((await h.call('POST', `/fulfilments/${next.fulfilmentId}/receive`, op)).status).to.equal(200);
      await until(async () => ((await fulfilment(pickup.fulfilmentId)).inbound[1].status === 'arrived' ? true : undefined));
      expect((await h.call('POST', `/fulfilments/${pickup.fulfilmentId}/pick`, { ...op, body: { lines: [{ sku, quantity: 3 }] } })).status).to.equal(200);
      const stock = await stockWhen(sku, (at) => at('store-hh').onHand === 3);
      expect([stock('wh-hh'), stock('wh-muc'), stock('store-hh')].map((l) => [l.onHand, l.reserved])).to.deep.equal([[2, 0], [0, 0], [3, 3]]);
      const pickups = (await fulfilmentsOf(id, 3)).filter((f) => f.kind === 'pickup');
      expect(pickups).to.have.length(1);
    });
  });
});
