import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { sandboxLabelAttempts, sandboxLabelCounts, sandboxLabels } from '../../carriers/sandbox-carriers.js';
import { SANDBOX_CARRIER_IDS } from '../../platform/config.js';
import { journey, type FulfilmentSummary } from '../support/journey.js';
import { ownRedis } from '../support/own-services.js';
import { eventually, KEYS, NO_FRAUD_HOLDS, startHarness, type Harness } from '../support/service-harness.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../support/test-env.js';

// Label purchases under faults, with the real services: a carrier that makes the label and loses
// its answer, a worker process killed with SIGKILL while purchases are in flight, and Redis killed
// and started empty while fulfilments are packed. The carriers' own records must show exactly one
// label per packed fulfilment, the one the fulfilment is labelled with.

const WAREHOUSE = { name: 'WH 1', type: 'warehouse', geo: { lat: 40, lon: -74 }, canShip: true, canPickup: false };

/** Places `n` orders of one unit each from wh-1 and answers their fulfilments once all are in the work queue. */
async function fulfilmentsToPack(h: Harness, n: number): Promise<FulfilmentSummary[]> {
  const j = journey(h, 60_000);
  expect((await h.call('PUT', '/locations/wh-1', { key: KEYS.operator, body: WAREHOUSE })).status).to.equal(201);
  const sku = uniqueName('SKU').slice(0, 60);
  await j.receive(sku, 'wh-1', n);
  const ids = new Set<string>();
  for (let wave = 0; wave < n; wave += 25) {
    const placed = await Promise.all(Array.from({ length: Math.min(25, n - wave) }, () => j.place([{ sku, quantity: 1, unitPrice: 1500 }])));
    for (const id of placed) ids.add(id);
  }
  return j.until(async () => {
    const page = (await h.call('GET', '/fulfilments?locationId=wh-1&limit=200', { key: KEYS.operator })).body.fulfilments.filter((f: FulfilmentSummary) => ids.has(f.orderId));
    return page.length === n ? page : undefined;
  });
}

/** Fulfilments whose label the carrier has made that the fulfilment does not have yet (its purchase between the carrier's answer and recording it). */
async function unrecordedLabels(h: Harness): Promise<string[]> {
  const pending: string[] = [];
  for (const id of (await sandboxLabelCounts(h.service.knex)).keys()) {
    const f = await h.service.write.loadFulfilment(id);
    if (f.status === 'packed') pending.push(id);
  }
  return pending;
}

/** Waits until every fulfilment is labelled; then each must have exactly one label at the carriers, the one it is labelled with. */
async function oneLabelEach(h: Harness, fulfilments: FulfilmentSummary[], ms = 60_000): Promise<void> {
  const ids = new Set(fulfilments.map((f) => f.fulfilmentId));
  const labelled = await eventually(async () => {
    const page = (await h.call('GET', '/fulfilments?locationId=wh-1&status=labelled&limit=200', { key: KEYS.operator })).body.fulfilments.filter((f: FulfilmentSummary) => ids.has(f.fulfilmentId));
    return page.length === ids.size ? page : undefined;
  }, ms, 250).catch(async (err: Error) => {
    const statuses = await Promise.all([...ids].map(async (id) => (await h.service.write.loadFulfilment(id)).status));
    throw new Error(`${err.message}: fulfilments by status ${JSON.stringify(statuses.reduce<Record<string, number>>((c, s) => ({ ...c, [s]: (c[s] ?? 0) + 1 }), {}))}`);
  });
  expect(labelled).to.have.length(ids.size);
  const counts = await sandboxLabelCounts(h.service.knex);
  expect([...ids].map((id) => counts.get(id) ?? 0), 'labels at the carriers per fulfilment').to.deep.equal([...ids].map(() => 1));
  for (const id of ids) {
    const f = await h.service.write.loadFulfilment(id);
    const [label] = await sandboxLabels(h.service.knex, id);
    expect(f.status === 'labelled' && [f.label.carrierId, f.label.trackingNumber], id).to.deep.equal([label.carrierId, label.trackingNumber]);
  }
  const twice = await h.service.knex.raw(`SELECT stream_id, type, count(*)::int AS n FROM events WHERE stream_id LIKE 'fulfilment-%'
    AND type IN ('FulfilmentCarrierChosen', 'FulfilmentLabelled') GROUP BY stream_id, type HAVING count(*) > 1 LIMIT 5`);
  expect(twice.rows, 'choices or labels recorded twice').to.deep.equal([]);
}

describe('label purchases under faults', function () {
  this.timeout(180_000);

  it('a lost label answer (lose_once at every carrier): the retry gets the label made, one label at the carrier, and the fulfilment is labelled with it', async () => {
    const h = await startHarness({
      ...NO_FRAUD_HOLDS, SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_GATEWAY_LATENCY_MS: '5',
      SANDBOX_CARRIER_FAULTS: JSON.stringify(Object.fromEntries(SANDBOX_CARRIER_IDS.map((id) => [id, 'lose_once']))),
    });
    try {
      const fulfilments = await fulfilmentsToPack(h, 3);
      const j = journey(h);
      await Promise.all(fulfilments.map((f) => j.pickAndPackOnly(f)));
      await oneLabelEach(h, fulfilments, 30_000);
      for (const f of fulfilments) {
        const [label] = await sandboxLabels(h.service.knex, f.fulfilmentId);
        expect(await sandboxLabelAttempts(h.service.knex, label.carrierId, `label:${f.fulfilmentId}`), 'purchases reaching the carrier: the lost one and the retry').to.be.at.least(2);
      }
    } finally {
      await h.stop();
    }
  });

  it('a worker killed (SIGKILL) in the middle of label purchases: once a new worker is done, one label per packed fulfilment', async () => {
    const h = await startHarness({ OMS_ROLES: 'api,projections,sourcing', ...NO_FRAUD_HOLDS });
    const workers: ChildProcess[] = [];
    const startWorker = () => {
      const child = spawn(process.execPath, ['dist/main.js'], {
        env: {
          ...process.env, OMS_ROLES: 'jobs', DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: h.service.config.databaseSchema, REDIS_URL: TEST_REDIS_URL,
          QUEUE_PREFIX: h.queuePrefix, ...NO_FRAUD_HOLDS, JOB_LOCK_MS: '1000', SANDBOX_GATEWAY_LATENCY_MS: '5',
          // Slow carriers: each purchase spends a few hundred ms between the carrier making the label and the job hearing of it.
          SANDBOX_CARRIER_LATENCY_MS: '600', CARRIER_QUOTE_TIMEOUT_MS: '10000', LOG_LEVEL: 'silent',
        },
        stdio: 'ignore',
      });
      workers.push(child);
      return child;
    };
    try {
      let worker = startWorker();
      const fulfilments = await fulfilmentsToPack(h, 30);
      const j = journey(h);
      await Promise.all(fulfilments.map((f) => j.pickAndPackOnly(f)));
      // Kill it while the carriers have made labels the fulfilments do not have yet, the moment a
      // crash could buy twice. Make sure the kill landed there (the job may have recorded in the meantime), else again.
      let caught: string[] = [];
      for (let round = 0; round < 5 && caught.length === 0; round++) {
        const pending = await eventually(async () => {
          const found = await unrecordedLabels(h);
          return found.length > 0 ? found : undefined;
        }, 30_000, 5);
        worker.kill('SIGKILL');
        await new Promise((r) => worker.once('exit', r));
        caught = (await unrecordedLabels(h)).filter((id) => pending.includes(id));
        if (caught.length === 0) worker = startWorker();
      }
      expect(caught.length, 'fulfilments labelled at the carrier but not recorded when the worker died').to.be.at.least(1);

      startWorker();
      await oneLabelEach(h, fulfilments);
    } finally {
      for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
      await h.stop();
    }
  });

  it('Redis killed twice (SIGKILL, no persistence) and started empty while fulfilments are packed: every packed fulfilment gets exactly one label', async () => {
    const redis = await ownRedis({ persist: false });
    // Slow carriers: purchases under way when Redis goes are still under way when their jobs, lost, are handed to it again.
    const h = await startHarness({
      REDIS_URL: redis.url, ...NO_FRAUD_HOLDS, SANDBOX_GATEWAY_LATENCY_MS: '5', SANDBOX_CARRIER_LATENCY_MS: '1000', CARRIER_QUOTE_TIMEOUT_MS: '10000', JOB_LOCK_MS: '2000',
    });
    try {
      const fulfilments = await fulfilmentsToPack(h, 60);
      const j = journey(h);
      const inFlight: number[] = [];
      const outages: Promise<void>[] = [];
      for (let wave = 0; wave < fulfilments.length; wave += 10) {
        await Promise.all(fulfilments.slice(wave, wave + 10).map((f) => j.pickAndPackOnly(f)));
        if (wave + 10 !== 20 && wave + 10 !== 40) continue;
        await Promise.all(outages);
        // Purchases of the waves packed so far are still waiting for their labels when Redis goes.
        const statuses = await Promise.all(fulfilments.slice(0, wave + 10).map(async (f) => (await h.service.write.loadFulfilment(f.fulfilmentId)).status));
        inFlight.push(statuses.filter((s) => s === 'packed').length);
        await redis.kill('SIGKILL');
        outages.push((async () => {
          await new Promise((r) => setTimeout(r, 500));              // down for a moment while the next waves are packed
          await redis.start();
        })());
      }
      await Promise.all(outages);
      expect(inFlight).to.have.length(2);
      expect(inFlight.every((n) => n > 0), `fulfilments waiting for a label at each kill: ${inFlight}`).to.equal(true);
      await oneLabelEach(h, fulfilments);
      // The faults hit the purchases: some were asked for again (their jobs handed back to Redis) and answered with the label made.
      const askedAgain: string[] = [];
      for (const f of fulfilments) {
        const [label] = await sandboxLabels(h.service.knex, f.fulfilmentId);
        if (await sandboxLabelAttempts(h.service.knex, label.carrierId, `label:${f.fulfilmentId}`) > 1) askedAgain.push(f.fulfilmentId);
      }
      expect(askedAgain.length, 'purchases made again under the same key').to.be.at.least(1);
    } finally {
      await h.stop();
      await redis.destroy();
    }
  });
});
