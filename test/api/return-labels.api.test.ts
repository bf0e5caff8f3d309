import { expect } from 'chai';
import { sandboxLabels } from '../../carriers/sandbox-carriers.js';
import { staleReturnParcels } from '../../read-side/returns.queries.js';
import { returnStream } from '../../write-side/returns/return.decider.js';
import { HAMBURG_ADDRESS, journey, signed } from '../support/journey.js';
import { KEYS, NO_FRAUD_HOLDS, startHarness, type Harness } from '../support/service-harness.js';
import { uniqueName } from '../support/test-env.js';

// A delivered parcel sent back, through the API and the real jobs: the return label bought by the
// carrier job from the customer's address to the nearest warehouse, one label at the carrier, and
// the return's parcel moved on by the carrier's signed webhooks or, when none comes, by polling.

const op = { key: KEYS.operator };
const LOCATIONS = [
  { id: 'wh-hh', type: 'warehouse', geo: { lat: 53.6, lon: 10.0 }, canPickup: false },
  { id: 'wh-muc', type: 'warehouse', geo: { lat: 48.1, lon: 11.6 }, canPickup: false },
  { id: 'store-hh', type: 'store', geo: { lat: 53.55, lon: 9.99 }, canPickup: true },
];

async function withLocations(env: Record<string, string>): Promise<Harness> {
  const h = await startHarness({ ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_GATEWAY_LATENCY_MS: '5', ...env });
  for (const l of LOCATIONS) {
    const r = await h.call('PUT', `/locations/${l.id}`, { ...op, body: { name: l.id, type: l.type, geo: l.geo, canShip: true, canPickup: l.canPickup, handlingCost: 100 } });
    expect(r.status).to.equal(201);
  }
  return h;
}

/** Delivers an order of two units shipped from Munich to Hamburg (by webhook unless the carrier's own clock delivers it) and asks to return one; answers the return's id. */
async function returnOfDelivered(h: Harness, { byWebhook }: { byWebhook: boolean }): Promise<{ orderId: string; returnId: string; sku: string }> {
  const { receive, place, order, until, fulfilmentsOf, pickAndPack } = journey(h);
  const sku = uniqueName('SKU').slice(0, 40);
  await receive(sku, 'wh-muc', 5);
  const orderId = await place([{ sku, quantity: 2, unitPrice: 1500 }]);
  const [f] = await fulfilmentsOf(orderId, 1);
  expect(f.locationId).to.equal('wh-muc');
  const { shipment } = await pickAndPack(f);
  expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op)).status).to.equal(200);
  if (byWebhook) {
    const update = { trackingNumber: shipment.trackingNumber, status: 'delivered', at: new Date().toISOString() };
    expect((await h.call('POST', `/carriers/${shipment.carrierId}/tracking`, signed(shipment.carrierId, update))).status).to.equal(200);
  }
  await until(async () => ((await order(orderId)).status === 'delivered' ? true : undefined));
  const asked = await h.call('POST', `/orders/${orderId}/returns`, { key: KEYS.client, body: { lines: [{ sku, quantity: 1, reason: 'too small' }], resolution: 'refund' } });
  expect(asked.status, JSON.stringify(asked.body)).to.equal(201);
  return { orderId, returnId: asked.body.returnId, sku };
}

describe('return labels, tracked by signed webhooks (API)', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => { h = await withLocations({}); });
  after(async () => { await h.stop(); });

  it('labels a delivered order\'s return from the customer\'s address to the nearest warehouse, one label at the carrier, and moves it on by webhook', async () => {
    const { until } = journey(h);
    const { returnId } = await returnOfDelivered(h, { byWebhook: true });
    const labelled = await until(async () => {
      const r = (await h.call('GET', `/returns/${returnId}`, { key: KEYS.client })).body;
      return r.status === 'label_created' ? r : undefined;
    });
    // The store is nearer the customer and Munich is where the units came from: the Hamburg warehouse takes them in.
    expect(labelled.label).to.include({ locationId: 'wh-hh' });
    const { carrierId, trackingNumber } = labelled.label;
    const atCarrier = await sandboxLabels(h.service.knex, returnId);
    expect(atCarrier.map((l) => [l.carrierId, l.trackingNumber, l.idempotencyKey]), 'labels at the carriers').to.deep.equal([[carrierId, trackingNumber, `return-label:${returnId}`]]);
    const [{ request }] = await h.service.knex('sandbox_carrier_labels').where({ reference: returnId }).select('request');
    expect(request.from.geo, 'collected at the customer\'s address').to.deep.equal(HAMBURG_ADDRESS.geo);
    expect(request.to.geo, 'delivered to the warehouse').to.deep.equal(LOCATIONS[0].geo);
    const chosen = labelled.timeline.find((t: { type: string }) => t.type === 'ReturnCarrierChosen');
    expect(chosen).to.include({ carrierId, to: 'wh-hh' });

    const update = { trackingNumber, status: 'in_transit', at: new Date().toISOString(), detail: 'Collected' };
    const posted = await h.call('POST', `/carriers/${carrierId}/tracking`, signed(carrierId, update));
    expect(posted.status).to.equal(200);
    expect(posted.body).to.include({ recorded: true, status: 'in_transit' });
    const moving = await until(async () => {
      const r = (await h.call('GET', `/returns/${returnId}`, op)).body;
      return r.status === 'in_transit' ? r : undefined;
    });
    expect(moving.tracking.map((u: { status: string }) => u.status)).to.deep.equal(['in_transit']);
    expect(await sandboxLabels(h.service.knex, returnId)).to.have.length(1);
  });
});

describe('return parcels no carrier webhook reports, moved on by polling (API)', function () {
  this.timeout(60_000);
  let h: Harness;
  // Carrier time runs 200,000 times faster (a parcel arrives a few seconds after its label); parcels silent for a second are polled every second.
  before(async () => { h = await withLocations({ SANDBOX_CARRIER_CLOCK: '200000', TRACKING_POLL_AFTER_MS: '1000', TRACKING_POLL_EVERY_MS: '1000' }); });
  after(async () => { await h.stop(); });

  it('moves a return\'s parcel on to the warehouse with no webhook posted: the poll asks the carrier, then stops asking once it is delivered', async () => {
    const { until } = journey(h);
    const { returnId } = await returnOfDelivered(h, { byWebhook: false });
    const arrived = await until(async () => {
      const r = (await h.call('GET', `/returns/${returnId}`, op)).body;
      return r.tracking?.some((u: { status: string }) => u.status === 'delivered') ? r : undefined;
    });
    expect(arrived.status, 'moving until received at the desk').to.equal('in_transit');
    expect(arrived.label).to.include({ locationId: 'wh-hh' });
    expect(arrived.tracking.map((u: { status: string }) => u.status)).to.include.members(['in_transit', 'out_for_delivery', 'delivered']);
    const tracked = (await h.service.store.readStream(returnStream(returnId))).filter((e) => e.type === 'ReturnTracked');
    expect(tracked.filter((e) => !(e.metadata as { actor: { id: string } }).actor.id.startsWith('tracking-poll/')), 'updates recorded by anything but the poll').to.deep.equal([]);
    const [label] = await sandboxLabels(h.service.knex, returnId);
    expect(Number((await h.service.knex('sandbox_carrier_labels').where({ tracking_number: label.trackingNumber }).first('webhooks_sent')).webhooks_sent)).to.equal(0);
    const stale = await staleReturnParcels(h.service.knex, { olderThanMs: 0, now: new Date(Date.now() + 60_000), limit: 1000 });
    expect(stale.map((s) => s.returnId), 'a parcel delivered to the warehouse is no longer polled').to.not.include(returnId);
  });
});
