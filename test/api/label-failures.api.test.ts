import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sandboxLabelAttempts, sandboxLabels } from '../../carriers/sandbox-carriers.js';
import { SANDBOX_CARRIER_IDS } from '../../platform/config.js';
import { orderIdForChannelOrder } from '../../write-side/commands.js';
import { fulfilmentIdFor, fulfilmentStream } from '../../write-side/fulfilments/fulfilment.decider.js';
import { HAMBURG_ADDRESS, journey } from '../support/journey.js';
import { anOrderBody, KEYS, NO_FRAUD_HOLDS, startHarness, type Harness } from '../support/service-harness.js';
import { uniqueName } from '../support/test-env.js';

// Failures that end for good, made visible through the API with the real jobs, PostgreSQL and
// Redis: a label no carrier will sell, a cancelled fulfilment's label left at its carrier, and a
// fulfilment step a rule refuses; each retried by an operator.

const LOCATION = { name: 'Hamburg DC', type: 'warehouse', geo: { lat: 53.6, lon: 10.0 }, canShip: true, canPickup: false, handlingCost: 100 };
const op = { key: KEYS.operator };
type Entry = { type: string; [k: string]: unknown };

describe('failures that end for good (API)', function () {
  this.timeout(90_000);
  let h: Harness;
  // The order whose shipment every carrier refuses, the first time, for good (answering that key with the refusal again).
  const refused = anOrderBody({ externalId: uniqueName('LZ'), customer: { id: uniqueName('c') }, delivery: { method: 'ship', speed: 'standard', address: HAMBURG_ADDRESS } });
  const refusedOrder = orderIdForChannelOrder(refused.channel, refused.source, refused.externalId);
  before(async () => {
    const reference = fulfilmentIdFor(refusedOrder, 0, 'wh-hh');
    h = await startHarness({
      ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_GATEWAY_LATENCY_MS: '5',
      SANDBOX_CARRIER_FAULTS: JSON.stringify(Object.fromEntries(SANDBOX_CARRIER_IDS.map((id) => [id, { fault: 'refuse_once', reference }]))),
    });
    expect((await h.call('PUT', '/locations/wh-hh', { ...op, body: LOCATION })).status).to.equal(201);
  });
  after(async () => { await h.stop(); });
  const { receive, place, order, until, fulfilmentsOf, pickAndPackOnly, fulfilment, whenStatus } = journey({ call: (...args) => h.call(...args) });
  const failedJobs = async () => (await h.call('GET', '/jobs/failed', op)).body.jobs as { jobId: string; queue: string; reason: string; fulfilmentId: string | null; orderId: string | null }[];

  it('a label every carrier refuses: re-shopped carrier by carrier, then recorded on the fulfilment, its queue, its order and the failed jobs; the operator\'s retry gets one label', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'wh-hh', 5);
    expect((await h.call('POST', '/orders', { key: KEYS.client, body: { ...refused, lines: [{ sku, quantity: 1, unitPrice: 1000 }] } })).status).to.equal(201);
    const orderId = refusedOrder;
    const [f] = await fulfilmentsOf(orderId, 1);
    await pickAndPackOnly(f);

    const failed = await until(async () => { const x = await fulfilment(f.fulfilmentId); return x.labelFailure ? x : undefined; });
    expect(failed.status).to.equal('packed');
    expect(failed.labelFailure).to.include({ attempt: 3, carrierId: null, code: 'no_carrier' });
    expect([...failed.labelFailure.refusedBy].sort()).to.deep.equal([...SANDBOX_CARRIER_IDS].sort());
    const refusals = failed.timeline.filter((t: Entry) => t.type === 'LabelPurchaseRefused');
    expect(refusals.map((t: Entry) => [t.attempt, t.code])).to.deep.equal([[1, 'address_not_serviceable'], [2, 'address_not_serviceable'], [3, 'address_not_serviceable']]);
    expect(failed.timeline.at(-1)).to.include({ type: 'LabelPurchaseFailed', code: 'no_carrier' });

    const queued = (await h.call('GET', '/fulfilments?locationId=wh-hh&status=packed&limit=200', op)).body.fulfilments.find((x: { fulfilmentId: string }) => x.fulfilmentId === f.fulfilmentId);
    expect(queued.labelFailure).to.include({ code: 'no_carrier' });
    const onOrder = await until(async () => (await order(orderId)).timeline.find((t: Entry) => t.type === 'LabelPurchaseFailed'));
    expect(onOrder).to.include({ fulfilmentId: f.fulfilmentId, code: 'no_carrier' });
    const job = await until(async () => (await failedJobs()).find((j) => j.fulfilmentId === f.fulfilmentId));
    expect(job).to.include({ queue: 'labels', orderId });
    expect(job.reason).to.match(/^no_carrier: no carrier can take fulfilment .*: every carrier refused the label/);
    expect(await sandboxLabels(h.service.knex, f.fulfilmentId), 'labels at the carriers').to.deep.equal([]);

    expect((await h.call('POST', `/jobs/${job.jobId}/retry`, op)).status).to.equal(202);
    const labelled = await whenStatus(f.fulfilmentId, 'labelled');
    expect(labelled.labelFailure).to.equal(null);
    const labels = await sandboxLabels(h.service.knex, f.fulfilmentId);
    expect(labels.map((l) => [l.carrierId, l.trackingNumber])).to.deep.equal([[labelled.shipment.carrierId, labelled.shipment.trackingNumber]]);
    // Bought as the fourth purchase, under a key of its own: the carrier still refuses its first key.
    expect(labels[0].idempotencyKey).to.equal(`label:${f.fulfilmentId}:4`);
    expect(await sandboxLabelAttempts(h.service.knex, labels[0].carrierId, labels[0].idempotencyKey)).to.equal(1);
    expect((await failedJobs()).some((j) => j.fulfilmentId === f.fulfilmentId), 'still listed as failed').to.equal(false);
  });

  it('an order cancelled after its label was bought, before the handover: the label is voided at the carrier, and that recorded', async () => {
    const sku = uniqueName('SKU').slice(0, 40);
    await receive(sku, 'wh-hh', 5);
    const orderId = await place([{ sku, quantity: 1, unitPrice: 1000 }]);
    const [f] = await fulfilmentsOf(orderId, 1);
    await pickAndPackOnly(f);
    const { trackingNumber, carrierId } = (await whenStatus(f.fulfilmentId, 'labelled')).shipment;

    expect((await h.call('POST', `/orders/${orderId}/cancel`, { key: KEYS.client, body: { reason: 'changed my mind' } })).status).to.equal(200);
    const voided = await until(async () => { const x = await fulfilment(f.fulfilmentId); return x.shipment?.cancelledAt ? x : undefined; });
    expect(voided.status).to.equal('cancelled');
    expect(voided.timeline.find((t: Entry) => t.type === 'LabelCancelled')).to.include({ carrierId, trackingNumber });
    const labels = await sandboxLabels(h.service.knex, f.fulfilmentId);
    expect(labels.map((l) => [l.trackingNumber, l.cancelled])).to.deep.equal([[trackingNumber, true]]);
    const onOrder = await until(async () => (await order(orderId)).timeline.find((t: Entry) => t.type === 'LabelCancelled'));
    expect(onOrder).to.include({ fulfilmentId: f.fulfilmentId, trackingNumber });
  });

  it('a fulfilment step a rule refuses is kept among the failed jobs, and the operator\'s retry runs it again', async () => {
    // A pickup not collected in time, for an order the service does not have yet: cancelling it is refused (order.not_found).
    const body = anOrderBody({ externalId: uniqueName('LZ') });
    const orderId = orderIdForChannelOrder(body.channel, body.source, body.externalId);
    const fulfilmentId = randomUUID();
    const eventId = randomUUID();
    await h.service.store.append(fulfilmentStream(fulfilmentId), [{
      id: eventId, type: 'FulfilmentExpired', data: { fulfilmentId, orderId, locationId: 'wh-hh', lines: [], at: new Date().toISOString() }, metadata: {},
    }], 'no_stream');
    const job = await until(async () => (await failedJobs()).find((j) => j.jobId === `fulfilment-steps:${eventId}`));
    expect(job).to.include({ queue: 'fulfilment-steps', orderId, fulfilmentId });
    expect(job.reason).to.match(/^FulfilmentExpired refused: order\.not_found: /);

    // Refused again while the order is still unknown: a failed job of its own, retried again once the order is there.
    expect((await h.call('POST', `/jobs/${job.jobId}/retry`, op)).status).to.equal(202);
    const again = await until(async () => (await failedJobs()).find((j) => j.jobId === job.jobId && j.reason.includes('refused again')));
    expect(again.reason).to.match(/^FulfilmentExpired refused again: order\.not_found: /);
    expect((await h.call('POST', '/orders', { key: KEYS.client, body })).status).to.equal(201);
    expect((await h.call('POST', `/jobs/${job.jobId}/retry`, op)).status).to.equal(202);
    const cancelled = await until(async () => { const o = await order(orderId); return o.status === 'cancelled' ? o : undefined; });
    expect(cancelled.timeline.find((t: Entry) => t.type === 'OrderCancelled')).to.include({ reason: 'not_collected' });
    expect((await failedJobs()).some((j) => j.jobId === job.jobId), 'still listed as failed').to.equal(false);
  });
});
