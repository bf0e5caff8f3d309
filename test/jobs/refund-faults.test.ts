import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { sandboxRefunds } from '../../payments/sandbox-gateway.js';
import { HAMBURG_ADDRESS, journey, signed } from '../support/journey.js';
import { anOrderBody, eventually, KEYS, NO_FRAUD_HOLDS, startHarness, type Harness } from '../support/service-harness.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../support/test-env.js';

// Refund faults with the real services: a worker process killed with SIGKILL between the
// gateway's refund and its recording, and a refund whose answer is lost after the gateway made
// it. Each receipt must end refunded, with exactly one refund in the gateway's own records.

describe('refund faults', function () {
  this.timeout(180_000);

  /** Orders delivered through the API (labels, captures and tracking by the jobs running wherever they run), each with its return. */
  async function deliveredWithReturns(h: Harness, n: number, token: string): Promise<{ orderId: string; returnId: string; sku: string }[]> {
    const op = { key: KEYS.operator };
    const { receive, fulfilmentsOf, pickAndPack, until, order } = journey({ call: (...args) => h.call(...args) }, 90_000);
    await h.call('PUT', '/locations/wh-rf', { ...op, body: { name: 'WH', type: 'warehouse', geo: { lat: 53.6, lon: 10.0 }, canShip: true, canPickup: false, handlingCost: 100 } });
    const sku = uniqueName('RF').slice(0, 40);
    await receive(sku, 'wh-rf', n * 2);
    return Promise.all(Array.from({ length: n }, async () => {
      const placed = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ customer: { id: uniqueName('c') }, lines: [{ sku, quantity: 1, unitPrice: 1200 }], delivery: { method: 'ship', speed: 'standard', address: HAMBURG_ADDRESS }, payment: { method: 'card', token } }) });
      const orderId = placed.body.orderId as string;
      const [f] = await fulfilmentsOf(orderId, 1);
      const { shipment } = await pickAndPack(f);
      await h.call('POST', `/fulfilments/${f.fulfilmentId}/ship`, op);
      await h.call('POST', `/carriers/${shipment.carrierId}/tracking`, signed(shipment.carrierId, { trackingNumber: shipment.trackingNumber, status: 'delivered', at: new Date().toISOString() }));
      await until(async () => { const o = await order(orderId); return o.status === 'delivered' && o.payment.status === 'captured' ? o : undefined; });
      const asked = await h.call('POST', `/orders/${orderId}/returns`, { key: KEYS.client, body: { lines: [{ sku, quantity: 1, reason: 'wrong colour' }], resolution: 'refund' } });
      expect(asked.status).to.equal(201);
      return { orderId, returnId: asked.body.returnId as string, sku };
    }));
  }

  const receiveAll = (h: Harness, returns: { returnId: string; sku: string }[]) => Promise.all(returns.map(async ({ returnId, sku }) => {
    const r = await h.call('POST', `/returns/${returnId}/receive`, { key: KEYS.operator, body: { locationId: 'wh-rf', lines: [{ sku, quantity: 1, condition: 'resellable' }] } });
    expect(r.status).to.equal(200);
  }));

  const allRefunded = (h: Harness, returns: { returnId: string }[], ms: number) => eventually(async () => {
    const views = await Promise.all(returns.map(async (r) => (await h.call('GET', `/returns/${r.returnId}`, { key: KEYS.operator })).body));
    return views.every((v) => v.status === 'refunded') ? views : undefined;
  }, ms, 250);

  it('a worker killed (SIGKILL) between the gateway\'s refunds and their recording: every receipt refunded once', async () => {
    const h = await startHarness({ OMS_ROLES: 'api,projections,sourcing', ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5' });
    const workers: ChildProcess[] = [];
    const startWorker = (gatewayLatencyMs: number) => {
      const child = spawn(process.execPath, ['dist/main.js'], {
        env: {
          ...process.env, OMS_ROLES: 'jobs', DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: h.service.config.databaseSchema, REDIS_URL: TEST_REDIS_URL,
          QUEUE_PREFIX: h.queuePrefix, ...NO_FRAUD_HOLDS, JOB_LOCK_MS: '1000', SANDBOX_GATEWAY_LATENCY_MS: String(gatewayLatencyMs), SANDBOX_CARRIER_LATENCY_MS: '5', LOG_LEVEL: 'silent',
        },
        stdio: 'ignore',
      });
      workers.push(child);
      return child;
    };
    try {
      let worker = startWorker(5);
      const returns = await deliveredWithReturns(h, 12, 'tok_ok');
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      // A slow gateway now: refunds made at the gateway whose answers are still on their way back when the worker dies.
      worker = startWorker(800);
      await receiveAll(h, returns);
      const unrecorded = async () => {
        const found: string[] = [];
        for (const r of returns) {
          const made = await sandboxRefunds(h.service.knex, r.orderId);
          const order = await h.service.write.loadOrder(r.orderId, { fresh: true });
          if (made.length > 0 && order.status !== 'none' && order.payment.refunded === 0) found.push(r.orderId);
        }
        return found;
      };
      let caught: string[] = [];
      for (let round = 0; round < 5 && caught.length === 0; round++) {
        const pending = await eventually(async () => { const f = await unrecorded(); return f.length > 0 ? f : undefined; }, 30_000, 5);
        worker.kill('SIGKILL');
        await new Promise((r) => worker.once('exit', r));
        caught = (await unrecorded()).filter((id) => pending.includes(id));
        if (caught.length === 0) worker = startWorker(800);
      }
      expect(caught.length, 'refunds made at the gateway and not recorded when the worker died').to.be.at.least(1);
      startWorker(5);
      const views = await allRefunded(h, returns, 90_000);
      expect(views.map((v) => v.refund.amount)).to.deep.equal(returns.map(() => 1200));
      for (const r of returns) expect((await sandboxRefunds(h.service.knex, r.orderId)).map((x) => x.amount)).to.deep.equal([1200]);
    } finally {
      for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
      await h.stop();
    }
  });

  it('a refund whose answer is lost after the gateway made it: asked again under the same key, refunded once', async () => {
    const h = await startHarness({ ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_GATEWAY_LATENCY_MS: '5' });
    try {
      const returns = await deliveredWithReturns(h, 3, 'tok_refund_lost_once');
      await receiveAll(h, returns);
      const views = await allRefunded(h, returns, 60_000);
      expect(views.map((v) => v.refund.amount)).to.deep.equal([1200, 1200, 1200]);
      for (const r of returns) {
        const made = await sandboxRefunds(h.service.knex, r.orderId);
        expect(made.map((x) => x.amount)).to.deep.equal([1200]);
        // The job asked twice (the first answer lost), under one key.
        const asked = await h.service.knex('sandbox_payment_attempts').where({ idempotency_key: made[0].idempotencyKey }).first();
        expect(asked.attempts).to.be.at.least(2);
      }
    } finally {
      await h.stop();
    }
  });
});
