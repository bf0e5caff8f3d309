import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import knexFactory from 'knex';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES } from '../../jobs/queues.js';
import { sandboxLabelCounts } from '../../carriers/sandbox-carriers.js';
import { sandboxAuthorizationCounts, sandboxRecords } from '../../payments/sandbox-gateway.js';
import { anOrderBody, apiClient, deleteQueueKeys, eventually, KEYS, NO_FRAUD_HOLDS, startHarness, TEST_API_KEYS, type Call, type Harness } from '../support/service-harness.js';
import { parcelOf, type FulfilmentSummary } from '../support/journey.js';
import { freePort, ownPostgres, ownRedis } from '../support/own-services.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../support/test-env.js';

// Faults with the real services: a worker process killed with SIGKILL in the middle of payment
// jobs, Redis restarted (persisted) or killed and started empty (not persisted), and PostgreSQL
// crashed, each while orders go through (and, for PostgreSQL, while fulfilments are packed and
// labelled). Every order must end in the right state, the sandbox gateway's own records must show
// no payment authorised twice, the carriers' one label per packed fulfilment, and nothing may be
// lost or done twice. test/jobs/label-faults.test.ts has the same faults for label purchases alone.

/** Fraud rules that approve every order here: these tests are about payments and jobs. */

async function seedStock(h: Harness, sku: string, quantity: number): Promise<void> {
  await h.call('PUT', '/locations/wh-1', { key: KEYS.operator, body: { name: 'WH 1', type: 'warehouse', geo: { lat: 40, lon: -74 }, canShip: true, canPickup: false } });
  const r = await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku, locationId: 'wh-1', quantity } });
  await h.call('GET', `/inventory/${sku}?minPosition=${r.body.position}`, { key: KEYS.operator });
}

/** Orders the gateway has authorised that have not recorded it. */
async function unrecordedAuthorizations(h: Harness): Promise<string[]> {
  const pending: string[] = [];
  for (const id of (await authorizationsPerOrder(h)).keys()) {
    const order = await h.service.write.loadOrder(id, { fresh: true });
    if (order.status !== 'none' && !order.payment.authorizationId) pending.push(id);
  }
  return pending;
}

async function placeOrders(h: Harness, sku: string, n: number, token: (i: number) => string, onPlaced?: (count: number) => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  for (let wave = 0; wave < n; wave += 25) {
    const placed = await Promise.all(Array.from({ length: Math.min(25, n - wave) }, async (_, k) => {
      const r = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ customer: { id: uniqueName('c') }, lines: [{ sku, quantity: 1, unitPrice: 1500 }], payment: { method: 'card', token: token(wave + k) } }) });
      expect(r.status).to.equal(201);
      return r.body.orderId as string;
    }));
    ids.push(...placed);
    await onPlaced?.(ids.length);
  }
  return ids;
}

/** Waits until every order has one of the statuses wanted; answers status by order. */
async function settled(h: { call: Call }, ids: string[], done: (status: string, payment: string) => boolean, ms: number): Promise<Map<string, { status: string; payment: string }>> {
  const seen = new Map<string, { status: string; payment: string }>();
  const summary = () => JSON.stringify([...seen.values()].reduce<Record<string, number>>((c, o) => ({ ...c, [`${o.status}/${o.payment}`]: (c[`${o.status}/${o.payment}`] ?? 0) + 1 }), {}));
  await eventually(async () => {
    for (const id of ids) {
      if (seen.has(id)) continue;
      const r = await h.call('GET', `/orders/${id}`, { key: KEYS.operator });
      if (r.status === 200 && done(r.body.status, r.body.payment.status)) seen.set(id, { status: r.body.status, payment: r.body.payment.status });
    }
    return seen.size === ids.length ? true : undefined;
  }, ms, 250).catch(async (err: Error) => {
    const stuck = await Promise.all(ids.filter((id) => !seen.has(id)).slice(0, 3).map(async (id) => {
      const r = await h.call('GET', `/orders/${id}`, { key: KEYS.operator });
      return r.status === 200 ? { id, status: r.body.status, payment: r.body.payment.status, timeline: r.body.timeline.map((t: { type: string }) => t.type) } : { id, answer: r.status };
    }));
    throw new Error(`${err.message}: ${seen.size} of ${ids.length} settled ${summary()}; not settled: ${JSON.stringify(stuck)}`);
  });
  return seen;
}

/** The sandbox gateway's own count of authorisations per order. */
const authorizationsPerOrder = (h: Harness): Promise<Map<string, number>> => sandboxAuthorizationCounts(h.service.knex);

/** Job counts per queue, as BullMQ holds them. */
async function jobCounts(redisUrl: string, prefix: string): Promise<Record<string, Record<string, number>>> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    const counts: Record<string, Record<string, number>> = {};
    // The tracking queue always holds its next scheduled poll: it is never drained, and no order's job.
    for (const name of Object.values(QUEUES).filter((n) => n !== QUEUES.tracking)) {
      const q = new Queue(name, { connection: redis, prefix });
      counts[name] = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
      await q.close();
    }
    return counts;
  } finally {
    redis.disconnect();
  }
}

/** Waits until no job is waiting, active or delayed; answers completed and failed per queue. */
async function drained(redisUrl: string, prefix: string): Promise<Record<string, { completed: number; failed: number }>> {
  return eventually(async () => {
    const counts = await jobCounts(redisUrl, prefix);
    const busy = Object.values(counts).some((c) => c.waiting + c.active + c.delayed + c.prioritized > 0);
    return busy ? undefined : Object.fromEntries(Object.entries(counts).map(([q, c]) => [q, { completed: c.completed, failed: c.failed }]));
  }, 60_000, 250);
}

describe('faults', function () {
  this.timeout(180_000);

  it('a worker killed (SIGKILL) in the middle of payment jobs: every order released, each authorised once, no job lost', async () => {
    const h = await startHarness({ OMS_ROLES: 'api,projections', ...NO_FRAUD_HOLDS });
    const workers: ChildProcess[] = [];
    const startWorker = () => {
      const child = spawn(process.execPath, ['dist/main.js'], {
        env: {
          ...process.env, OMS_ROLES: 'sourcing,jobs', DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: h.service.config.databaseSchema, REDIS_URL: TEST_REDIS_URL,
          QUEUE_PREFIX: h.queuePrefix, ...NO_FRAUD_HOLDS, JOB_LOCK_MS: '1000', SANDBOX_GATEWAY_LATENCY_MS: '600', LOG_LEVEL: 'silent',
        },
        stdio: 'ignore',
      });
      workers.push(child);
      return child;
    };
    try {
      const sku = uniqueName('SKU').slice(0, 60);
      await seedStock(h, sku, 1000);
      let worker = startWorker();
      const ids = await placeOrders(h, sku, 40, () => 'tok_ok');
      // Kill it while the gateway has authorised orders that the orders do not show yet: payment
      // jobs between the gateway's answer and recording it, the moment a crash could pay twice.
      // Make sure the kill landed there (the job may have recorded in the meantime), else again.
      let caught: string[] = [];
      for (let round = 0; round < 5 && caught.length === 0; round++) {
        const pending = await eventually(async () => {
          const found = await unrecordedAuthorizations(h);
          return found.length > 0 ? found : undefined;
        }, 30_000, 5);
        worker.kill('SIGKILL');
        await new Promise((r) => worker.once('exit', r));
        caught = (await unrecordedAuthorizations(h)).filter((id) => pending.includes(id));
        if (caught.length === 0) worker = startWorker();
      }
      expect(caught.length, 'orders authorised at the gateway but not recorded when the worker died').to.be.at.least(1);

      startWorker();
      const outcome = await settled(h, ids, (status) => status === 'released', 90_000);
      expect([...outcome.values()].every((o) => o.status === 'released' && o.payment === 'authorized')).to.equal(true);
      const perOrder = await authorizationsPerOrder(h);
      expect(ids.map((id) => perOrder.get(id) ?? 0)).to.deep.equal(ids.map(() => 1));
      for (const id of caught) expect((await sandboxRecords(h.service.knex, id)).authorizations).to.have.length(1);
      // No job lost: one fraud check, one authorisation and one confirmation per order, and nothing failed.
      const jobs = await drained(TEST_REDIS_URL, h.queuePrefix);
      expect(jobs[QUEUES.fraudScoring]).to.deep.equal({ completed: 40, failed: 0 });
      expect(jobs[QUEUES.payments]).to.deep.equal({ completed: 40, failed: 0 });
      expect(jobs[QUEUES.notifications]).to.deep.equal({ completed: 40, failed: 0 });
    } finally {
      for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
      await h.stop();
    }
  });

  it('Redis restarted during a run of 500 orders: every order ends right, none authorised twice, no job lost', async () => {
    // Redis as BullMQ needs it in production: persisted (AOF), so a restart keeps the queues.
    const redis = await ownRedis({ persist: true });
    const { url, port } = redis;
    const h = await startHarness({ REDIS_URL: url, ...NO_FRAUD_HOLDS, SANDBOX_GATEWAY_LATENCY_MS: '5', JOB_LOCK_MS: '2000' });
    try {
      const sku = uniqueName('SKU').slice(0, 60);
      await seedStock(h, sku, 10_000);
      let restarted = false;
      const declined = (i: number) => i % 10 === 9;
      const ids = await placeOrders(h, sku, 500, (i) => (declined(i) ? 'tok_declined' : i % 10 === 4 ? 'tok_fail_once' : 'tok_ok'), async (count) => {
        if (count < 200 || restarted) return;
        restarted = true;
        const admin = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
        admin.on('error', () => undefined);
        await admin.call('SHUTDOWN').catch(() => undefined);            // the connection closes as it answers
        admin.disconnect();
        await redis.kill('SIGTERM');                                    // waits for it to have exited
        await new Promise((r) => setTimeout(r, 1000));             // down for a second while orders keep coming
        await redis.start();
      });
      expect(restarted).to.equal(true);

      const outcome = await settled(h, ids, (status, payment) => (status === 'released' && payment === 'authorized') || (status === 'rejected' && payment === 'declined'), 150_000);
      ids.forEach((id, i) => expect(outcome.get(id)!.status, `order ${i}`).to.equal(declined(i) ? 'rejected' : 'released'));
      const perOrder = await authorizationsPerOrder(h);
      ids.forEach((id, i) => expect(perOrder.get(id) ?? 0, `authorisations of order ${i}`).to.equal(declined(i) ? 0 : 1));
      // No job lost: a fraud check, an authorisation and a confirmation per order, and for each
      // declined one a settlement and a rejection notice; nothing failed.
      const jobs = await drained(url, h.queuePrefix);
      expect(jobs[QUEUES.fraudScoring]).to.deep.equal({ completed: 500, failed: 0 });
      expect(jobs[QUEUES.payments]).to.deep.equal({ completed: 550, failed: 0 });
      expect(jobs[QUEUES.notifications]).to.deep.equal({ completed: 550, failed: 0 });
      const sent = (await h.service.knex('notifications').select('kind').count({ n: '*' }).groupBy('kind').orderBy('kind')) as unknown as { kind: string; n: string }[];
      expect(sent.map((r) => [r.kind, Number(r.n)])).to.deep.equal([['order_confirmed', 500], ['order_rejected', 50]]);
    } finally {
      await h.stop();
      await redis.destroy();
    }
  });

  it('Redis killed twice (SIGKILL, no persistence) and started empty while orders pour in: every order ends right, nothing done twice', async () => {
    // A Redis that keeps nothing: each start is empty, as after a crash without AOF or a failover
    // to a replica that had copied nothing. The log must give the work back.
    const redis = await ownRedis({ persist: false });
    const { url } = redis;
    const h = await startHarness({ REDIS_URL: url, ...NO_FRAUD_HOLDS, SANDBOX_GATEWAY_LATENCY_MS: '20', JOB_LOCK_MS: '2000' });
    try {
      const sku = uniqueName('SKU').slice(0, 60);
      await seedStock(h, sku, 10_000);
      const kills = [150, 350];
      const declined = (i: number) => i % 10 === 9;
      const ids = await placeOrders(h, sku, 500, (i) => (declined(i) ? 'tok_declined' : i % 10 === 4 ? 'tok_fail_once' : 'tok_ok'), async (count) => {
        if (kills.length === 0 || count < kills[0]) return;
        kills.shift();
        await redis.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 500));                // down for a moment while orders keep coming
        await redis.start();
      });
      expect(kills).to.deep.equal([]);

      const outcome = await settled(h, ids, (status, payment) => (status === 'released' && payment === 'authorized') || (status === 'rejected' && payment === 'declined'), 150_000);
      ids.forEach((id, i) => expect(outcome.get(id)!.status, `order ${i}`).to.equal(declined(i) ? 'rejected' : 'released'));
      const perOrder = await authorizationsPerOrder(h);
      ids.forEach((id, i) => expect(perOrder.get(id) ?? 0, `authorisations of order ${i}`).to.equal(declined(i) ? 0 : 1));
      // Every order's confirmation (and each rejection's notice) once; no event of an order twice.
      await eventually(async () => {
        const [{ n }] = await h.service.knex('notifications').count({ n: '*' });
        return Number(n) >= 550 ? true : undefined;
      }, 60_000, 250);
      const sent = (await h.service.knex('notifications').select('kind').count({ n: '*' }).groupBy('kind').orderBy('kind')) as unknown as { kind: string; n: string }[];
      expect(sent.map((r) => [r.kind, Number(r.n)])).to.deep.equal([['order_confirmed', 500], ['order_rejected', 50]]);
      const twice = await h.service.knex.raw(`SELECT stream_id, type, count(*)::int AS n FROM events WHERE stream_id LIKE 'order-%'
        GROUP BY stream_id, type HAVING count(*) > 1 LIMIT 5`);
      expect(twice.rows, 'events recorded twice on an order').to.deep.equal([]);
      // The rejected orders' stock is released by sourcing after they settle: wait for it to be seen.
      const reserved = await eventually(async () => {
        const r = await h.call('GET', `/inventory/${sku}`, { key: KEYS.operator });
        return r.body.totals.reserved === 450 ? r.body.totals.reserved : undefined;
      }, 30_000, 100).catch(async () => (await h.call('GET', `/inventory/${sku}`, { key: KEYS.operator })).body.totals.reserved);
      expect(reserved, 'units reserved: one per released order').to.equal(450);
    } finally {
      await h.stop();
      await redis.destroy();
    }
  });

  it('PostgreSQL crashed twice (pg_ctl -m immediate) while orders pour in and fulfilments are packed: the service never exits, answers 503 meanwhile, every acknowledged order ends right and every packed fulfilment has one label', async () => {
    const pgServer = await ownPostgres();
    const port = await freePort();
    const queuePrefix = uniqueName('oms-test');
    let output = '';
    const service = spawn(process.execPath, ['dist/main.js'], {
      env: {
        ...process.env, DATABASE_URL: pgServer.url('oms'), REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: queuePrefix, PORT: String(port), HOST: '127.0.0.1',
        OMS_API_KEYS: TEST_API_KEYS, ...NO_FRAUD_HOLDS, SANDBOX_GATEWAY_LATENCY_MS: '5', JOB_LOCK_MS: '2000', LOG_LEVEL: 'warn', NODE_ENV: 'test',
        // Slow carriers: a crash finds label purchases between the carrier making the label and the job recording it.
        SANDBOX_CARRIER_LATENCY_MS: '400', CARRIER_QUOTE_TIMEOUT_MS: '10000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout!.on('data', (d) => { output += d; });
    service.stderr!.on('data', (d) => { output += d; });
    const api = { call: apiClient(`http://127.0.0.1:${port}`) };
    const db = knexFactory({ client: 'pg', connection: pgServer.url('oms'), pool: { min: 0, max: 2 } });
    try {
      await eventually(async () => { try { return (await api.call('GET', '/health', { key: null })).status === 200 ? true : undefined; } catch { return undefined; } }, 30_000, 100);
      const sku = uniqueName('SKU').slice(0, 60);
      await api.call('PUT', '/locations/wh-1', { key: KEYS.operator, body: { name: 'WH 1', type: 'warehouse', geo: { lat: 40, lon: -74 }, canShip: true, canPickup: false } });
      await api.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku, locationId: 'wh-1', quantity: 10_000 } });

      const acknowledged: { id: string; declined: boolean }[] = [];
      const answers = new Map<string, number>();
      const healthDuringOutage: unknown[] = [];
      let placing = true;
      let sent = 0;
      const client = async () => {
        while (placing) {
          const i = sent++;
          const declined = i % 10 === 9;
          const body = anOrderBody({ customer: { id: uniqueName('c') }, lines: [{ sku, quantity: 1, unitPrice: 1500 }], payment: { method: 'card', token: declined ? 'tok_declined' : 'tok_ok' } });
          let status: string;
          try {
            const r = await api.call('POST', '/orders', { key: KEYS.client, body, timeoutMs: 10_000 });
            status = String(r.status);
            if (r.status === 201) acknowledged.push({ id: r.body.orderId, declined });
          } catch (err) {
            status = (err as Error).name;                                  // a hang (TimeoutError) or a dropped connection
          }
          answers.set(status, (answers.get(status) ?? 0) + 1);
        }
      };
      const clients = Array.from({ length: 16 }, client);
      // Operators pick and pack the released orders all along, so labels are being bought when PostgreSQL goes.
      const packed = new Set<string>();
      const taken = new Set<string>();
      const packer = async () => {
        while (placing) {
          const page = await api.call('GET', '/fulfilments?status=pending&limit=50', { key: KEYS.operator, timeoutMs: 10_000 }).catch(() => undefined);
          const pending: FulfilmentSummary[] = page?.status === 200 ? page.body.fulfilments.filter((f: FulfilmentSummary) => !taken.has(f.fulfilmentId)) : [];
          for (const f of pending) {
            taken.add(f.fulfilmentId);
            const lines = f.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
            const picked = await api.call('POST', `/fulfilments/${f.fulfilmentId}/pick`, { key: KEYS.operator, body: { lines }, timeoutMs: 10_000 }).catch(() => undefined);
            if (picked?.status !== 200) continue;
            const r = await api.call('POST', `/fulfilments/${f.fulfilmentId}/pack`, { key: KEYS.operator, body: { packages: parcelOf(lines) }, timeoutMs: 10_000 }).catch(() => undefined);
            if (r?.status === 202) packed.add(f.fulfilmentId);
          }
          if (pending.length === 0) await new Promise((r) => setTimeout(r, 100));
        }
      };
      const packers = Array.from({ length: 2 }, packer);
      const awaitingLabels: number[] = [];
      for (const [at, packedBefore] of [[150, 20], [400, 60]]) {
        await eventually(async () => (acknowledged.length >= at && packed.size >= packedBefore ? true : undefined), 60_000, 20);
        awaitingLabels.push((await api.call('GET', '/fulfilments?status=packed&limit=200', { key: KEYS.operator })).body.fulfilments.length);
        // Crash while a label the carrier has made is on its way back to a job that has not recorded it
        // (the moment a crash could buy twice), when one is seen within a few seconds.
        await eventually(async () => {
          const { rows: [{ n }] } = await db.raw(`SELECT count(*)::int AS n FROM sandbox_carrier_labels l
            WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.stream_id = 'fulfilment-' || l.reference AND e.type = 'FulfilmentLabelled')`);
          return n > 0 ? true : undefined;
        }, 5000, 5).catch(() => undefined);
        await pgServer.crash();
        const refusedBefore = answers.get('503') ?? 0;
        await eventually(async () => ((answers.get('503') ?? 0) > refusedBefore ? true : undefined), 10_000, 20)
          .catch((err: Error) => { throw new Error(`${err.message}: no 503 during the outage, answers ${JSON.stringify(Object.fromEntries(answers))}\n${output.slice(-4000)}`); });
        const health = await api.call('GET', '/health', { key: null, timeoutMs: 10_000 });
        healthDuringOutage.push({ status: health.status, checks: health.body.checks });
        await new Promise((r) => setTimeout(r, 2000));                   // down for two seconds while orders keep coming
        await pgServer.start();
      }
      await eventually(async () => (acknowledged.length >= 600 ? true : undefined), 60_000, 20);
      placing = false;
      await Promise.all([...clients, ...packers]);

      expect(service.exitCode, `the service exited:\n${output.slice(-3000)}`).to.equal(null);
      expect([...answers.keys()].sort(), JSON.stringify(Object.fromEntries(answers))).to.deep.equal(['201', '503']);
      expect(healthDuringOutage).to.deep.equal([0, 1].map(() => ({ status: 503, checks: { eventStore: 'down', readModels: 'down', queue: 'ok' } })));
      const outcome = await settled(api, acknowledged.map((o) => o.id), (status, payment) => (status === 'released' && payment === 'authorized') || (status === 'rejected' && payment === 'declined'), 150_000)
        .catch(async (err: Error) => {
          const failures = await db('projection_failures').select('projection', 'event_type', 'error').limit(3);
          const checkpoints = await db('projection_checkpoints').select('name', 'position');
          throw new Error(`${err.message}; projection failures ${JSON.stringify(failures)}; checkpoints ${JSON.stringify(checkpoints)}\n${output.slice(-3000)}`);
        });
      for (const o of acknowledged) expect(outcome.get(o.id)!.status, o.id).to.equal(o.declined ? 'rejected' : 'released');
      const auths = await db('sandbox_payment_authorizations').select('reference').count({ n: '*' }).groupBy('reference').having(db.raw('count(*) > 1'));
      expect(auths, 'orders authorised twice').to.deep.equal([]);
      const twice = await db.raw(`SELECT stream_id, type, count(*)::int AS n FROM events WHERE stream_id LIKE 'order-%' GROUP BY stream_id, type HAVING count(*) > 1 LIMIT 5`);
      expect(twice.rows, 'events recorded twice on an order').to.deep.equal([]);
      const notified = await db('notifications').select('order_id', 'kind').count({ n: '*' }).groupBy('order_id', 'kind').having(db.raw('count(*) > 1'));
      expect(notified, 'notifications made twice').to.deep.equal([]);
      // Every fulfilment packed ends labelled, with exactly one label at the carriers; none has two.
      expect(awaitingLabels.every((n) => n > 0), `fulfilments waiting for a label at each crash: ${awaitingLabels}`).to.equal(true);
      await eventually(async () => {
        const [{ n }] = await db('fulfilments').whereIn('fulfilment_id', [...packed]).where({ status: 'labelled' }).count({ n: '*' });
        return Number(n) === packed.size ? true : undefined;
      }, 60_000, 250);
      const labels = await sandboxLabelCounts(db);
      expect([...packed].filter((id) => labels.get(id) !== 1), 'packed fulfilments without exactly one label').to.deep.equal([]);
      expect([...labels].filter(([, n]) => n > 1), 'fulfilments labelled twice at the carriers').to.deep.equal([]);
      const askedAgain = await db('sandbox_carrier_attempts').where('attempts', '>', 1).count({ n: '*' });
      expect(Number(askedAgain[0].n), 'purchases made again under the same key after the carrier had made the label').to.be.at.least(1);
      const labelledTwice = await db.raw(`SELECT stream_id, type, count(*)::int AS n FROM events WHERE stream_id LIKE 'fulfilment-%'
        AND type IN ('FulfilmentCarrierChosen', 'FulfilmentLabelled') GROUP BY stream_id, type HAVING count(*) > 1 LIMIT 5`);
      expect(labelledTwice.rows, 'choices or labels recorded twice').to.deep.equal([]);
      expect(service.exitCode).to.equal(null);
    } finally {
      service.kill('SIGTERM');
      await new Promise((r) => (service.exitCode === null ? service.once('exit', r) : r(undefined)));
      await db.destroy();
      await pgServer.destroy();
      await deleteQueueKeys(queuePrefix);
    }
  });
});
