import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import { notificationJob, notifyCustomer, type NotificationDeps } from '../../jobs/notifications.job.js';
import type { Notification, Notifier } from '../../notifications/notifier.port.js';
import { batchedOutbox } from '../../notifications/outbox.js';
import { meta } from '../support/given-when-then.js';
import { aJob, jobWorld } from '../support/job-world.js';
import { readModelWorld } from '../support/world.js';
import { failure } from '../support/failure.js';

/** A notifier that keeps what it was given; `failNext` makes the next sends throw. */
class FakeNotifier implements Notifier {
  readonly sent: Notification[] = [];
  readonly failNext: Error[] = [];

  async send(n: Notification): Promise<void> {
    const err = this.failNext.shift();
    if (err) throw err;
    this.sent.push(n);
  }
}

describe('customer notification job', () => {
  let knex: Knex;
  let cleanup: () => Promise<void>;
  before(async () => { ({ knex, cleanup } = await readModelWorld()); });
  after(async () => { await cleanup(); });

  let world: ReturnType<typeof jobWorld>;
  let notifier: FakeNotifier;
  let deps: NotificationDeps;
  beforeEach(() => {
    world = jobWorld();
    notifier = new FakeNotifier();
    deps = { write: world.write, knex, outbox: batchedOutbox(knex), notifier };
  });

  const jobFor = async (orderId: string, eventType: string, attempts: { made?: number } = {}) => aJob(eventType, await world.eventOf(orderId, eventType), attempts);
  const outbox = (orderId: string) => knex('notifications').where({ order_id: orderId }).orderBy('created_at');

  it('puts the confirmation into the outbox once and sends it once, however often the job runs', async () => {
    const orderId = await world.placeOrder({ channel: 'marketplace', source: 'lazada', externalId: 'LZ-1' });
    const job = await jobFor(orderId, 'OrderPlaced');
    await notifyCustomer(job, deps);
    await notifyCustomer(job, deps);
    expect(notifier.sent).to.have.length(1);
    expect(notifier.sent[0]).to.deep.include({ id: job.data.eventId, orderId, kind: 'order_confirmed', customer: { id: 'c-1', email: 'Ana@Example.com', name: 'Ana' } });
    expect(notifier.sent[0].data).to.deep.equal({ channel: 'marketplace', externalId: 'LZ-1', total: 5000, currency: 'EUR' });
    const rows = await outbox(orderId);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ notification_id: job.data.eventId, kind: 'order_confirmed', attempts: 1, last_error: null });
    expect(rows[0].sent_at).to.be.instanceOf(Date);
    expect(rows[0].payload).to.deep.equal(notifier.sent[0]);
  });

  it('records a failed delivery on the outbox row and rethrows it; the retry sends the notification first stored', async () => {
    const orderId = await world.placeOrder();
    const job = await jobFor(orderId, 'OrderPlaced');
    notifier.failNext.push(new Error('webhook answered 503'));
    expect(((await failure(notifyCustomer(job, deps))) as Error).message).to.equal('webhook answered 503');
    let [row] = await outbox(orderId);
    expect(row).to.include({ attempts: 1, last_error: 'webhook answered 503', sent_at: null });
    expect(notifier.sent).to.have.length(0);

    await notifyCustomer(await jobFor(orderId, 'OrderPlaced', { made: 1 }), deps);
    [row] = await outbox(orderId);
    expect(row).to.include({ attempts: 2, last_error: null });
    expect(row.sent_at).to.be.instanceOf(Date);
    expect(notifier.sent).to.deep.equal([row.payload]);
  });

  it('tells the customer why the order was cancelled', async () => {
    const orderId = await world.placeOrder();
    await world.write.cancelOrder(orderId, 'changed my mind', meta());
    await notifyCustomer(await jobFor(orderId, 'OrderCancelled'), deps);
    expect(notifier.sent.map((n) => [n.kind, n.data.reason])).to.deep.equal([['order_cancelled', 'changed my mind']]);
  });

  it('keeps the notification in the outbox, unsent, when no notifier is configured', async () => {
    const orderId = await world.placeOrder();
    await notifyCustomer(await jobFor(orderId, 'OrderPlaced'), { ...deps, notifier: undefined });
    const rows = await outbox(orderId);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ kind: 'order_confirmed', attempts: 0, sent_at: null });
  });

  it('tells the customer of a shipment with its tracking number, and of tracking updates that moved it on, not of late old ones', async () => {
    const orderId = await world.placeOrder();
    const recorded = (type: string, data: Record<string, unknown>) => ({
      id: `${type}-${String(data.status ?? '')}-${String(data.moved ?? '')}`, type, data: { orderId, ...data }, metadata: {}, streamId: 'fulfilment-f1', revision: 0, position: 1, recordedAt: new Date(),
    });
    const shipped = notificationJob(recorded('FulfilmentShipped', { fulfilmentId: 'f1', carrierId: 'swiftpost', trackingNumber: 'SP123', lines: [{ sku: 'SKU-1', quantity: 2 }] }));
    const delivered = notificationJob(recorded('ShipmentTracked', { fulfilmentId: 'f1', carrierId: 'swiftpost', trackingNumber: 'SP123', status: 'delivered', moved: true }));
    expect(notificationJob(recorded('ShipmentTracked', { status: 'in_transit', moved: true }))).to.equal(null);
    expect(notificationJob(recorded('ShipmentTracked', { status: 'delivered', moved: false }))).to.equal(null);
    await notifyCustomer(aJob('FulfilmentShipped', { orderId, eventId: randomUUID(), eventType: 'FulfilmentShipped', ...shipped! }), deps);
    await notifyCustomer(aJob('ShipmentTracked', { orderId, eventId: randomUUID(), eventType: 'ShipmentTracked', ...delivered! }), deps);
    expect(notifier.sent.map((n) => [n.kind, n.data.trackingNumber])).to.deep.equal([['order_shipped', 'SP123'], ['order_delivered', 'SP123']]);
  });

  it('fails for good on an event it has no notification for', async () => {
    const orderId = await world.placeOrder();
    const job = aJob('PaymentAuthorized', { orderId, eventId: '0190f0a0-0000-7000-8000-000000000001', eventType: 'PaymentAuthorized' });
    expect(await failure(notifyCustomer(job, deps))).to.be.instanceOf(UnrecoverableError);
    expect(await outbox(orderId)).to.have.length(0);
  });
});
