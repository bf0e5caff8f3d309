import { expect } from 'chai';
import { sandboxLabelAttempts, sandboxLabels } from '../../carriers/sandbox-carriers.js';
import { fulfilmentStream } from '../../write-side/fulfilments/fulfilment.decider.js';
import { journey } from '../support/journey.js';
import { KEYS, NO_FRAUD_HOLDS, startHarness, type Harness } from '../support/service-harness.js';
import { uniqueName } from '../support/test-env.js';

// Carriers as they fail the journey, through the API and the real jobs: one down while the label
// job rate-shops, and carriers that send no webhooks at all, so only polling moves shipments on.

const LOCATION = { name: 'Hamburg DC', type: 'warehouse', geo: { lat: 53.6, lon: 10.0 }, canShip: true, canPickup: false, handlingCost: 100 };
const op = { key: KEYS.operator };

async function withWarehouse(env: Record<string, string>): Promise<Harness> {
  const h = await startHarness({ ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_GATEWAY_LATENCY_MS: '5', ...env });
  expect((await h.call('PUT', '/locations/wh-hh', { ...op, body: LOCATION })).status).to.equal(201);
  return h;
}

describe('a carrier down while the label job rate-shops (API)', function () {
  this.timeout(60_000);
  let h: Harness;
  // ParcelNet would win: it is preferred, and wins within 1000% of the best price. It is down.
  before(async () => {
    h = await withWarehouse({
      SANDBOX_CARRIER_FAULTS: JSON.stringify({ parcelnet: 'down' }),
      CARRIER_PREFERENCES: JSON.stringify({ preferred: ['parcelnet'], marginPercent: 1000 }),
    });
  });
  after(async () => { await h.stop(); });
  const { receive, place, fulfilmentsOf, pickAndPack, fulfilment } = journey({ call: (...args) => h.call(...args) });

  it('buys the label from another carrier, and the recorded choice lists the one down as unavailable', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'wh-hh', 5);
    const [f] = await fulfilmentsOf(await place([{ sku, quantity: 1, unitPrice: 1000 }]), 1);
    const { shipment } = await pickAndPack(f);
    expect(shipment.carrierId).to.be.oneOf(['nationalpost', 'jetexpress']);
    expect(shipment.choice.unavailable).to.deep.equal(['parcelnet']);
    expect(shipment.choice.why).to.contain('parcelnet did not answer in time');
    const quoted = new Set(shipment.choice.quotes.map((q: { carrierId: string }) => q.carrierId));
    expect([...quoted].sort()).to.deep.equal(['jetexpress', 'nationalpost']);
    const chosen = (await fulfilment(f.fulfilmentId)).timeline.find((t: { type: string }) => t.type === 'FulfilmentCarrierChosen');
    expect(chosen).to.include({ carrierId: shipment.carrierId });
    expect(chosen.unavailable).to.deep.equal(['parcelnet']);
    const labels = await sandboxLabels(h.service.knex, f.fulfilmentId);
    expect(labels.map((l) => [l.carrierId, l.trackingNumber])).to.deep.equal([[shipment.carrierId, shipment.trackingNumber]]);
    expect(await sandboxLabelAttempts(h.service.knex, 'parcelnet', `label:${f.fulfilmentId}`), 'purchases tried at the carrier down').to.equal(0);
  });
});

describe('shipments no carrier webhook reports, moved on by polling (API)', function () {
  this.timeout(60_000);
  let h: Harness;
  // Carrier time runs 200,000 times faster: a parcel is delivered two to five carrier days after
  // its label, two seconds or so here. Shipments silent for a second are polled every second.
  before(async () => {
    h = await withWarehouse({ SANDBOX_CARRIER_CLOCK: '200000', TRACKING_POLL_AFTER_MS: '1000', TRACKING_POLL_EVERY_MS: '1000' });
  });
  after(async () => { await h.stop(); });
  const { receive, place, order, until, fulfilmentsOf, pickAndPack, fulfilment } = journey({ call: (...args) => h.call(...args) });

  /** Every tracking update the fulfilment recorded, with who recorded it. */
  async function trackedBy(fulfilmentId: string): Promise<{ status: string; actor: string }[]> {
    const events = await h.service.store.readStream(fulfilmentStream(fulfilmentId));
    return events.filter((e) => e.type === 'ShipmentTracked')
      .map((e) => ({ status: (e.data as { status: string }).status, actor: (e.metadata as { actor: { id: string } }).actor.id }));
  }
  const webhooksSent = async (trackingNumber: string) => Number((await h.service.knex('sandbox_carrier_labels').where({ tracking_number: trackingNumber }).first('webhooks_sent')).webhooks_sent);

  it('delivers a shipped order without any webhook posted: the poll asks the carrier and records each step', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'wh-hh', 5);
    const id = await place([{ sku, quantity: 1, unitPrice: 1000 }]);
    const [f] = await fulfilmentsOf(id, 1);
    const { shipment } = await pickAndPack(f);
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op)).status).to.equal(200);
    const delivered = await until(async () => { const o = await order(id); return o.status === 'delivered' ? o : undefined; });
    expect(delivered.shipments[0].deliveredAt).to.be.a('string');
    const seen = await fulfilment(f.fulfilmentId);
    expect(seen.shipment.status).to.equal('delivered');
    expect(seen.shipment.events.map((u: { status: string }) => u.status)).to.include.members(['in_transit', 'out_for_delivery', 'delivered']);
    const tracked = await trackedBy(f.fulfilmentId);
    expect(tracked.map((t) => t.status)).to.include('delivered');
    expect(tracked.filter((t) => !t.actor.startsWith('tracking-poll/')), 'updates recorded by anything but the poll').to.deep.equal([]);
    expect(await webhooksSent(shipment.trackingNumber)).to.equal(0);
  });

  it('a parcel delivered before it was marked shipped: fulfilment goes on for other orders, and the order is delivered once it ships', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'wh-hh', 5);
    const early = await place([{ sku, quantity: 1, unitPrice: 1000 }]);
    const [f] = await fulfilmentsOf(early, 1);
    await pickAndPack(f);
    await until(async () => ((await fulfilment(f.fulfilmentId)).shipment.status === 'delivered' ? true : undefined));
    const deliveredAt = (await h.service.store.readStream(fulfilmentStream(f.fulfilmentId)))
      .find((e) => e.type === 'ShipmentTracked' && (e.data as { status: string }).status === 'delivered')!.position;
    // The fulfilment process takes the delivery in (the order hears of it once the shipment is recorded) and goes on.
    await until(async () => {
      const row = await h.service.knex('dispatcher_checkpoints').where({ name: 'fulfilment' }).first('position');
      return Number(row.position) >= deliveredAt ? true : undefined;
    });
    const next = await place([{ sku, quantity: 1, unitPrice: 1000 }]);
    expect((await fulfilmentsOf(next, 1))[0]).to.include({ locationId: 'wh-hh', status: 'pending' });
    expect((await order(early)).status).to.equal('released');
    expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op)).status).to.equal(200);
    const delivered = await until(async () => { const o = await order(early); return o.status === 'delivered' ? o : undefined; });
    expect(delivered.timeline.filter((t: { type: string }) => t.type === 'OrderFulfilmentDelivered')).to.have.length(1);
  });
});
