import { expect } from 'chai';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES } from '../../jobs/queues.js';
import { sandboxAttempts, sandboxRecords } from '../../payments/sandbox-gateway.js';
import { fold } from '../../write-side/decider.js';
import { stockDecider, stockStream, type StockEvent } from '../../write-side/inventory/stock.decider.js';
import { anOrderBody, eventually, KEYS, startHarness, type Harness } from '../support/service-harness.js';
import { TEST_REDIS_URL, uniqueName } from '../support/test-env.js';

// The order lifecycle end to end: fraud scoring, payment jobs on the sandbox gateway, sourcing,
// release, rejection, review, cancellation and the customer notifications, with real PostgreSQL
// and Redis. Orders up to 1,000.00 are approved, from 1,000.00 held for review, from 5,000.00
// rejected; velocity does not count here.
const RULES = {
  reviewAt: 50, rejectAt: 80, newCustomer: 0, highValue: { minor: 100_000, points: 55 }, veryHighValue: { minor: 500_000, points: 85 },
  velocityCustomer1h: { max: 1e6, points: 0 }, velocityCustomer24h: { max: 1e6, points: 0 }, velocityEmail1h: { max: 1e6, points: 0 },
  velocityEmail24h: { max: 1e6, points: 0 }, velocityAddress1h: { max: 1e6, points: 0 }, velocityAddress24h: { max: 1e6, points: 0 },
  velocityCard1h: { max: 1e6, points: 0 }, velocityCard24h: { max: 1e6, points: 0 },
};

function lifecycle(title: string, env: Record<string, string>, tests: (ctx: () => Harness & { order(price: number, token?: string): Promise<string> }) => void) {
  describe(title, function () {
    this.timeout(30_000);
    let h: Harness;
    let sku: string;
    before(async () => {
      h = await startHarness({ FRAUD_RULES: JSON.stringify(RULES), SANDBOX_GATEWAY_LATENCY_MS: '5', ...env });
      sku = uniqueName('SKU').slice(0, 60);
      await h.call('PUT', '/locations/wh-1', { key: KEYS.operator, body: { name: 'WH 1', type: 'warehouse', geo: { lat: 40, lon: -74 }, canShip: true, canPickup: false } });
      const r = await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku, locationId: 'wh-1', quantity: 1000 } });
      await h.call('GET', `/inventory/${sku}?minPosition=${r.body.position}`, { key: KEYS.operator });
    });
    after(async () => { await h.stop(); });
    tests(() => Object.assign(h, {
      async order(price: number, token = 'tok_ok') {
        const r = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ customer: { id: uniqueName('c') }, lines: [{ sku, quantity: 1, unitPrice: price }], payment: { method: 'card', token } }) });
        expect(r.status).to.equal(201);
        return r.body.orderId as string;
      },
    }));
  });
}

/** Waits until no payment job is waiting, active or delayed. */
async function paymentsDone(h: Harness): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const payments = new Queue(QUEUES.payments, { connection: redis, prefix: h.queuePrefix });
  try {
    await eventually(async () => {
      const c = await payments.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return c.waiting + c.active + c.delayed + c.prioritized === 0 ? true : undefined;
    }, 15_000);
  } finally {
    await payments.close();
    redis.disconnect();
  }
}

async function statusOf(h: Harness, orderId: string, want: string) {
  return eventually(async () => {
    const r = await h.call('GET', `/orders/${orderId}`, { key: KEYS.operator });
    return r.body.status === want ? r.body : undefined;
  }, 15_000);
}

/** The order once its payment has the status wanted. */
async function paymentOf(h: Harness, orderId: string, want: string) {
  return eventually(async () => {
    const r = await h.call('GET', `/orders/${orderId}`, { key: KEYS.operator });
    return r.body.payment?.status === want ? r.body : undefined;
  }, 15_000);
}

/** The customer cancels (200), and the order is read once its payment has settled as wanted. */
async function cancelledWith(h: Harness, orderId: string, reason: string, payment: string) {
  expect((await h.call('POST', `/orders/${orderId}/cancel`, { key: KEYS.client, body: { reason } })).status).to.equal(200);
  return paymentOf(h, orderId, payment);
}

async function reservedFor(h: Harness, orderId: string): Promise<number> {
  const order = await h.service.write.loadOrder(orderId, { fresh: true });
  if (order.status === 'none') return 0;
  let total = 0;
  for (const l of order.order.lines) {
    const events = await h.service.store.readStream(stockStream(l.sku, 'wh-1'));
    total += fold(stockDecider, events.map((e) => ({ type: e.type, data: e.data }) as StockEvent)).reservations.get(orderId) ?? 0;
  }
  return total;
}

lifecycle('order lifecycle', {}, (ctx) => {
  it('approve + authorise + allocate: released, authorised once, the customer told', async () => {
    const h = ctx();
    const id = await ctx().order(2500);
    const order = await statusOf(h, id, 'released');
    expect(order.payment).to.include({ status: 'authorized', authorized: 2500, captured: 0 });
    expect(order.timeline.map((t: { type: string }) => t.type)).to.include.members(['OrderPlaced', 'FraudAssessed', 'PaymentAuthorized', 'OrderAllocated', 'OrderReleased']);
    expect((await sandboxRecords(h.service.knex, id)).authorizations).to.have.length(1);
    const outbox = await eventually(async () => { const rows = await h.service.knex('notifications').where({ order_id: id }); return rows.length ? rows : undefined; });
    expect(outbox.map((n: { kind: string }) => n.kind)).to.deep.equal(['order_confirmed']);
  });

  it('a declined card: rejected, its stock released, the customer told', async () => {
    const h = ctx();
    const id = await ctx().order(2500, 'tok_declined');
    const order = await statusOf(h, id, 'rejected');
    expect(order.payment.status).to.equal('declined');
    expect(order.rejection).to.include({ cause: 'payment_declined' });
    await eventually(async () => ((await reservedFor(h, id)) === 0 ? true : undefined));
    await eventually(async () => ((await h.service.knex('notifications').where({ order_id: id, kind: 'order_rejected' })).length === 1 ? true : undefined));
  });

  it('tok_fail_once: the payment job is retried and authorises once', async () => {
    const h = ctx();
    const id = await ctx().order(2500, 'tok_fail_once');
    const order = await statusOf(h, id, 'released');
    expect(order.payment.status).to.equal('authorized');
    expect((await sandboxRecords(h.service.knex, id)).authorizations).to.have.length(1);
    expect(await sandboxAttempts(h.service.knex, `authorize:${id}`)).to.equal(2);
  });

  it('review -> approve: held, listed for review, then released', async () => {
    const h = ctx();
    const id = await ctx().order(200_000);
    const held = await statusOf(h, id, 'on_hold');
    expect(held.fraud.decision).to.equal('review');
    const queue = await h.call('GET', '/fraud/reviews', { key: KEYS.operator });
    expect(queue.status).to.equal(200);
    const listed = queue.body.orders.find((o: { orderId: string }) => o.orderId === id);
    expect(listed.fraud.reasons.map((r: { code: string }) => r.code)).to.include('high_value');
    expect((await h.call('GET', '/fraud/reviews', { key: KEYS.client })).status).to.equal(403);
    await eventually(async () => ((await h.call('GET', `/orders/${id}`, { key: KEYS.operator })).body.allocations.length > 0 ? true : undefined));
    await paymentOf(h, id, 'authorized');
    const reviewed = await h.call('POST', `/orders/${id}/review`, { key: KEYS.operator, body: { decision: 'approve', note: 'called the customer' } });
    expect(reviewed.status).to.equal(200);
    expect(reviewed.body.status).to.equal('released');
    const order = await statusOf(h, id, 'released');
    expect(order.review).to.include({ decision: 'approve', note: 'called the customer' });
    const again = await h.call('POST', `/orders/${id}/review`, { key: KEYS.operator, body: { decision: 'reject' } });
    expect(again.status).to.equal(409);
  });

  it('review -> reject: rejected, its authorisation voided and its stock released', async () => {
    const h = ctx();
    const id = await ctx().order(200_000);
    await statusOf(h, id, 'on_hold');
    await paymentOf(h, id, 'authorized');
    expect((await h.call('POST', `/orders/${id}/review`, { key: KEYS.operator, body: { decision: 'maybe' } })).status).to.equal(400);
    expect((await h.call('POST', `/orders/${id}/review`, { key: KEYS.operator, body: { decision: 'reject', note: 'stolen card' } })).status).to.equal(200);
    const order = await eventually(async () => {
      const r = await h.call('GET', `/orders/${id}`, { key: KEYS.operator });
      return r.body.status === 'rejected' && r.body.payment?.status === 'voided' ? r.body : undefined;
    }, 15_000);
    expect(order.rejection).to.include({ cause: 'review', detail: 'stolen card' });
    expect((await sandboxRecords(h.service.knex, id)).authorizations[0]).to.include({ voided: true, captured: 0 });
    await eventually(async () => ((await reservedFor(h, id)) === 0 ? true : undefined));
  });

  it('a fraud reject: rejected outright, nothing left held', async () => {
    const h = ctx();
    const id = await ctx().order(600_000);
    const order = await statusOf(h, id, 'rejected');
    expect(order.rejection).to.include({ cause: 'fraud' });
    await eventually(async () => ((await reservedFor(h, id)) === 0 ? true : undefined));
    await paymentsDone(h);
    const a = (await sandboxRecords(h.service.knex, id)).authorizations;
    expect(a.length === 0 || (a.length === 1 && a[0].voided), JSON.stringify(a)).to.equal(true);
  });

  it('cancelled while a lost authorisation is retried: the retry finds it, records it and voids it', async () => {
    const h = ctx();
    const id = await ctx().order(2500, 'tok_timeout_once');
    // The gateway has authorised, but its answer was lost: the order shows no authorisation yet.
    await eventually(async () => ((await sandboxRecords(h.service.knex, id)).authorizations.length === 1 ? true : undefined));
    expect((await h.service.write.loadOrder(id, { fresh: true }) as { payment: { authorizationId: string | null } }).payment.authorizationId).to.equal(null);
    const order = await cancelledWith(h, id, 'changed my mind', 'voided');
    expect(order.status).to.equal('cancelled');
    const authorizations = (await sandboxRecords(h.service.knex, id)).authorizations;
    expect(authorizations).to.have.length(1);
    expect(authorizations[0]).to.include({ voided: true, captured: 0 });
  });

  it('cancel before capture: the authorisation is voided, the customer told', async () => {
    const h = ctx();
    const id = await ctx().order(2500);
    await statusOf(h, id, 'released');
    const order = await cancelledWith(h, id, 'changed my mind', 'voided');
    expect(order.status).to.equal('cancelled');
    expect((await sandboxRecords(h.service.knex, id)).authorizations[0]).to.include({ voided: true, refunded: 0 });
    await eventually(async () => ((await reservedFor(h, id)) === 0 ? true : undefined));
    await eventually(async () => ((await h.service.knex('notifications').where({ order_id: id, kind: 'order_cancelled' })).length === 1 ? true : undefined));
  });

  it('still lists a job that failed for good after Redis forgot it, and retries it from what was kept', async () => {
    const h = ctx();
    await h.service.knex('failed_jobs').insert({ queue: QUEUES.payments, job_id: 'kept-1', name: 'NoSuchEvent', data: JSON.stringify({ orderId: 'o-kept', eventId: 'e-kept' }), position: 1 });
    const listed = (await h.call('GET', '/jobs/failed', { key: KEYS.operator })).body.jobs.find((j: { jobId: string }) => j.jobId === 'payments:kept-1');
    expect(listed).to.include({ queue: 'payments', name: 'NoSuchEvent', orderId: 'o-kept', attempts: null });
    expect((await h.call('POST', '/jobs/payments:kept-1/retry', { key: KEYS.operator })).status).to.equal(202);
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const payments = new Queue(QUEUES.payments, { connection: redis, prefix: h.queuePrefix });
    try {
      const job = await eventually(async () => (await payments.getJob('kept-1')) ?? undefined);
      expect(job.data).to.deep.include({ orderId: 'o-kept', recovered: true });
    } finally {
      await payments.close();
      redis.disconnect();
    }
  });

  it('shows failed jobs to operators and retries them', async () => {
    const h = ctx();
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const payments = new Queue(QUEUES.payments, { connection: redis, prefix: h.queuePrefix });
    try {
      await payments.add('NoSuchEvent', { orderId: 'o-x', eventId: 'e-x' }, { jobId: 'broken-1', attempts: 1 });
      const failed = await eventually(async () => {
        const r = await h.call('GET', '/jobs/failed', { key: KEYS.operator });
        return r.body.jobs.find((j: { jobId: string }) => j.jobId === 'payments:broken-1');
      });
      expect(failed).to.include({ queue: 'payments', orderId: 'o-x' });
      expect(failed.reason).to.contain('NoSuchEvent');
      expect((await h.call('GET', '/jobs/failed', { key: KEYS.client })).status).to.equal(403);
      expect((await h.call('POST', '/jobs/payments:broken-1/retry', { key: KEYS.operator })).status).to.equal(202);
      expect((await h.call('POST', '/jobs/payments:nope/retry', { key: KEYS.operator })).status).to.equal(404);
      expect((await h.call('POST', '/jobs/nothing/retry', { key: KEYS.operator })).status).to.equal(404);
      for (const reserved of ['payments:events', 'payments:wait', 'payments:id', 'payments:meta', 'payments:broken-1:logs', 'nope:broken-1']) {
        expect((await h.call('POST', `/jobs/${reserved}/retry`, { key: KEYS.operator })).status, reserved).to.equal(404);
      }
      // A job that has not failed (this one waits an hour for its turn) is not retried.
      await payments.add('NoSuchEvent', { orderId: 'o-y', eventId: 'e-y' }, { jobId: 'later-1', delay: 3_600_000 });
      const notFailed = await h.call('POST', '/jobs/payments:later-1/retry', { key: KEYS.operator });
      expect(notFailed.status).to.equal(409);
      expect(notFailed.body.code).to.equal('job.not_failed');
      expect(await payments.getJobState('later-1')).to.equal('delayed');
      // The retried job runs again and fails again (the retry took it off the failed list): then it can be retried again.
      await eventually(async () => {
        const r = await h.call('GET', '/jobs/failed', { key: KEYS.operator });
        return r.body.jobs.some((j: { jobId: string }) => j.jobId === 'payments:broken-1') ? true : undefined;
      });
      const again = await h.call('POST', '/jobs/payments:broken-1/retry', { key: KEYS.operator });
      expect(again.status).to.equal(202);
    } finally {
      await (await payments.getJob('later-1'))?.remove();
      await payments.close();
      redis.disconnect();
    }
  });
});

lifecycle('order lifecycle, capturing on release', { PAYMENT_CAPTURE: 'on_release' }, (ctx) => {
  it('cancel after capture: the captured amount is refunded once', async () => {
    const h = ctx();
    const id = await ctx().order(2500);
    await paymentOf(h, id, 'captured');
    const order = await cancelledWith(h, id, 'too late', 'refunded');
    expect(order.payment).to.include({ authorized: 2500, captured: 2500, refunded: 2500 });
    const authorizations = (await sandboxRecords(h.service.knex, id)).authorizations;
    expect(authorizations).to.have.length(1);
    expect(authorizations[0]).to.include({ amount: 2500, captured: 2500, refunded: 2500, voided: false });
  });
});
