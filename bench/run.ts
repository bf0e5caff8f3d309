import { spawn, execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { v7 as uuid } from 'uuid';
import { openPostgresEventStore } from '../event-store/postgres/postgres-event-store.js';
import { sandboxLabelCounts } from '../carriers/sandbox-carriers.js';
import { signature } from '../notifications/webhook-notifier.js';
import { sandboxAuthorizationCounts } from '../payments/sandbox-gateway.js';
import { loadConfig, SANDBOX_CARRIER_IDS } from '../platform/config.js';
import { createKnex, ensureDatabase } from '../platform/db.js';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { deleteQueueKeys, QUEUES } from '../jobs/queues.js';

// `npm run bench`: figures for the event store and the API, each beside PostgreSQL's own
// single-row insert rate (pgbench) on the same database at the same concurrency.

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/oms_bench';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** What the sandbox carriers sign their tracking webhooks with, as the service is told. */
const WEBHOOK_SECRETS = new Map<string, string>(SANDBOX_CARRIER_IDS.map((id) => [id, `bench-${id}-webhook-secret`]));

interface Row { figure: string; value: string; baseline?: string }
const rows: Row[] = [];

async function freshSchema(name: string): Promise<{ databaseUrl: string; schema: string; poolSize: number }> {
  const s = { databaseUrl: BASE_URL, schema: `${name}_${Date.now().toString(36)}`, poolSize: 16 };
  await ensureDatabase(s);
  return s;
}

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await c.end();
}

/** pgbench: single-row inserts into a plain table, one per transaction. */
async function pgbenchInserts(clients: number): Promise<number> {
  const s = await freshSchema('pgb');
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  await c.query(`CREATE TABLE ${s.schema}.t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v integer NOT NULL, at timestamptz DEFAULT now())`);
  await c.end();
  const dir = await mkdtemp(join(tmpdir(), 'oms-bench-'));
  const script = join(dir, 'insert.sql');
  await writeFile(script, `\\set v random(1, 1000000)\nINSERT INTO ${s.schema}.t (v) VALUES (:v);\n`);
  const url = new URL(BASE_URL);
  const { stdout } = await run('pgbench', ['-n', '-f', script, '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(SECONDS),
    '-h', url.hostname, '-p', url.port || '5432', '-U', url.username || 'postgres', url.pathname.slice(1)]);
  await dropSchema(s.schema);
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (!m) throw new Error(`could not read pgbench output:\n${stdout}`);
  return Number(m[1]);
}

/** Appends of one event to a fresh stream each, by `concurrency` concurrent writers. */
async function eventStoreAppends(concurrency: number): Promise<number> {
  const s = await freshSchema('esb');
  const { store, close } = await openPostgresEventStore(s, 'oms-bench');
  let done = 0;
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) {
      await store.append(`bench-${uuid()}`, [{ id: uuid(), type: 'BenchHappened', data: { n: done }, metadata: { correlationId: 'bench' } }], 'no_stream');
      done++;
    }
  }));
  const rate = done / SECONDS;
  await close();
  await dropSchema(s.schema);
  return rate;
}

async function waitForHealth(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('service did not become healthy');
}

let counter = 0;
function orderBody(): string {
  counter++;
  return JSON.stringify({
    channel: 'web', externalId: `B-${process.pid}-${counter}`, currency: 'USD',
    customer: { id: `c-${counter % 5000}`, email: `c${counter % 5000}@example.com` },
    lines: [{ sku: `SKU-${counter % 100}`, quantity: 1 + (counter % 3), unitPrice: 1999 }],
    delivery: { method: 'ship', speed: 'standard', address: { line1: `${counter % 700} Main St`, city: 'Springfield', postalCode: '12345', country: 'US', geo: { lat: 40, lon: -74 } } },
    payment: { method: 'card', token: 'tok_ok' },
  });
}

interface ApiFigures { rate: number; p50: number; p99: number; non2xx: number; errors: number; backlog?: { events: number; unscored: number; drainSeconds: number } }
interface Running { url: string; schema: string; db: pg.Client }

/**
 * Runs `work` against the service on a fresh schema, started as one process per entry of `roles`
 * (the first one serves the API), as a deployment would split it.
 */
async function withService<T>(roles: string | string[], work: (svc: Running) => Promise<T>): Promise<T> {
  const s = await freshSchema('svc');
  const port = 3900 + Math.floor(Math.random() * 90);
  const env = {
    ...process.env, DATABASE_URL: BASE_URL, DATABASE_SCHEMA: s.schema, HOST: '127.0.0.1', REDIS_URL,
    QUEUE_PREFIX: `bench-${s.schema}`, OMS_API_KEYS: 'bench-key:client,bench-ops:operator', LOG_LEVEL: 'warn', PG_POOL_SIZE: '16',
    CARRIER_WEBHOOK_SECRETS: [...WEBHOOK_SECRETS].map(([id, secret]) => `${id}:${secret}`).join(','),
  };
  const children = (Array.isArray(roles) ? roles : [roles]).map((r, i) => spawn(process.execPath,
    [...(process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []), 'dist/main.js'],
    { env: { ...env, OMS_ROLES: r, PORT: String(port + i * 100) }, stdio: ['ignore', 'inherit', 'inherit'] }));
  const url = `http://127.0.0.1:${port}`;
  const db = new pg.Client({ connectionString: BASE_URL });
  await db.connect();
  try {
    await waitForHealth(url);
    await new Promise((r) => setTimeout(r, 1000));                 // the other processes finish starting
    return await work({ url, schema: s.schema, db });
  } finally {
    await db.end();
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((res) => child.once('exit', res))));
    await dropSchema(s.schema);
    // The queues' jobs too: kept completed for a day, runs after runs would fill Redis (and slow it).
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    await deleteQueueKeys(redis, env.QUEUE_PREFIX).finally(() => redis.disconnect());
  }
}

const ordersLoad = (url: string, connections: number, body: () => string) => ({
  url, connections,
  headers: { authorization: 'Bearer bench-key', 'content-type': 'application/json' },
  requests: [{ method: 'POST', path: '/orders', setupRequest: (req: Record<string, unknown>) => ({ ...req, body: body() }) }],
});

/** POST /orders at 32 connections; with the pipeline in the process, how far it fell behind. */
async function postOrders(connections: number, roles: string): Promise<ApiFigures> {
  return withService(roles, async ({ url, schema, db }) => {
    await autocannon({ ...ordersLoad(url, connections, orderBody), duration: 2 });           // warm-up
    const r = await autocannon({ ...ordersLoad(url, connections, orderBody), duration: SECONDS });
    const figures: ApiFigures = { rate: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
    if (roles.includes('projections')) {
      const lag = async () => (await db.query(`SELECT (SELECT max(global_position) FROM ${schema}.events) - (SELECT min(position) FROM ${schema}.projection_checkpoints) AS events,
        (SELECT count(*) FROM ${schema}.events WHERE type = 'OrderPlaced') - (SELECT count(*) FROM ${schema}.events WHERE type = 'FraudAssessed') AS unscored`)).rows[0];
      const at = await lag();
      const started = Date.now();
      let now = at;
      while ((Number(now.events) > 0 || Number(now.unscored) > 0) && Date.now() - started < 120_000) {
        await new Promise((res) => setTimeout(res, 250));
        now = await lag();
      }
      figures.backlog = { events: Number(at.events), unscored: Number(at.unscored), drainSeconds: (Date.now() - started) / 1000 };
    }
    return figures;
  });
}

const LOCATIONS = [
  { id: 'wh-hamburg', type: 'warehouse', geo: { lat: 53.55, lon: 9.99 }, canPickup: false },
  { id: 'wh-munich', type: 'warehouse', geo: { lat: 48.14, lon: 11.58 }, canPickup: false },
  { id: 'hub-cologne', type: 'hub', geo: { lat: 50.94, lon: 6.96 }, canPickup: false },
  { id: 'store-berlin', type: 'store', geo: { lat: 52.52, lon: 13.40 }, canPickup: true },
  { id: 'store-frankfurt', type: 'store', geo: { lat: 50.11, lon: 8.68 }, canPickup: true },
];
const SKUS = 200;

/** A call to the service with the operator's key. */
function asOperator(url: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method, headers: { authorization: 'Bearer bench-ops', 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** A network of five locations with every SKU in stock, through the API. */
async function seedNetwork(url: string, db: pg.Client, schema: string, withJobs = true): Promise<void> {
  const call = (method: string, path: string, body: unknown) => asOperator(url, method, path, body);
  for (const l of LOCATIONS) {
    await call('PUT', `/locations/${l.id}`, { name: l.id, type: l.type, geo: l.geo, canShip: true, canPickup: l.canPickup, handlingCost: 150 });
  }
  await Promise.all(Array.from({ length: SKUS }, async (_, i) => {
    for (const l of LOCATIONS) await call('POST', '/inventory/receipts', { sku: `SKU-${i}`, locationId: l.id, quantity: 1_000_000 });
  }));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${schema}.stock_levels`);
    if (rows[0].n >= SKUS * LOCATIONS.length) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!withJobs) return;
  // Each receipt starts a backorder check; let the set-up's own work finish before measuring.
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const backorders = new Queue(QUEUES.backorders, { connection: redis, prefix: `bench-${schema}` });
  try {
    while (Date.now() < deadline) {
      const c = await backorders.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (c.waiting + c.active + c.delayed + c.prioritized === 0 && (await backorders.getJobCounts('completed')).completed >= SKUS * LOCATIONS.length) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the set-up did not settle');
  } finally {
    await backorders.close();
    redis.disconnect();
  }
}

let sourcingCounter = 0;
/** Mixed baskets and deliveries, each from a shopper, address and card of their own: nothing for fraud rules to hold. */
function sourcingOrder(): string {
  sourcingCounter++;
  const a = sourcingCounter % SKUS;
  const b = (sourcingCounter * 7 + 3) % SKUS;
  return JSON.stringify({
    channel: 'web', externalId: `S-${process.pid}-${sourcingCounter}`, currency: 'EUR', customer: { id: `s-${process.pid}-${sourcingCounter}` },
    lines: [{ sku: `SKU-${a}`, quantity: 1 + (sourcingCounter % 2), unitPrice: 1999 }, ...(a === b ? [] : [{ sku: `SKU-${b}`, quantity: 1, unitPrice: 999 }])],
    delivery: sourcingCounter % 5 === 0
      ? { method: 'pickup', locationId: sourcingCounter % 10 === 0 ? 'store-berlin' : 'store-frankfurt' }
      : { method: 'ship', speed: sourcingCounter % 3 === 0 ? 'express' : 'standard', address: { line1: `${sourcingCounter} Hauptstr.`, city: 'Leipzig', postalCode: '04109', country: 'DE', geo: { lat: 51.34 + (sourcingCounter % 50) / 100, lon: 12.37 } } },
    payment: { method: 'card', token: `tok_sourcing_${sourcingCounter}` },
  });
}

/**
 * Placement-to-allocation figures from the log for the orders placed after `after` (a global
 * position): how many were allocated, how fast, and how late (to each order's first allocation).
 */
async function allocationFigures(db: pg.Client, schema: string, placedCount: number, after = 0) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    // Watched on the orders read model, once a second: scanning the log while it is measured would slow what it measures.
    const { rows: [r] } = await db.query(`SELECT count(*)::int AS placed,
      count(*) FILTER (WHERE allocations <> '[]' OR backorder IS NOT NULL OR status IN ('rejected', 'cancelled'))::int AS done,
      (SELECT position FROM ${schema}.projection_checkpoints WHERE name = 'orders') >= (SELECT max(global_position) FROM ${schema}.events) AS current
      FROM ${schema}.orders WHERE placed_position > $1`, [after]);
    if ((r.current && r.placed >= placedCount && r.done === r.placed) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const { rows } = await db.query(`
    WITH placed AS (SELECT stream_id, recorded_at FROM ${schema}.events WHERE type = 'OrderPlaced' AND global_position > $1),
         allocated AS (SELECT stream_id, min(recorded_at) AS at FROM ${schema}.events WHERE type = 'OrderAllocated' GROUP BY stream_id)
    SELECT count(*)::int AS placed, count(a.at)::int AS n,
           extract(epoch FROM max(a.at) - min(p.recorded_at)) AS span,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.at - p.recorded_at)) AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM a.at - p.recorded_at)) AS p99,
           (SELECT count(*)::int FROM ${schema}.events b JOIN placed USING (stream_id) WHERE b.type = 'OrderBackordered') AS backordered
      FROM placed p LEFT JOIN allocated a USING (stream_id)`, [after]);
  const r = rows[0];
  return { placed: r.placed as number, allocated: r.n as number, perSecond: r.n / Number(r.span), p50: Number(r.p50) * 1000, p99: Number(r.p99) * 1000, backordered: r.backordered as number };
}

/**
 * Sourcing figures: a burst of 32 clients placing as fast as they can, and a steady 500 orders/s
 * after a warm-up at the same rate (a service that has just started compiles its hot paths first).
 * Measured on the write path alone (the API, the read models and sourcing: all that stands between
 * placing an order and its allocation), then on the whole service in one process, where placing
 * competes with every order's payment, fraud and notification jobs for the same two cores (the
 * pipeline part measures what the whole pipeline finishes). BENCH_TOPOLOGY measures one topology
 * of its own.
 */
async function sourcingBench(): Promise<void> {
  const topologies = process.env.BENCH_TOPOLOGY
    ? [{ name: process.env.BENCH_TOPOLOGY, processes: process.env.BENCH_TOPOLOGY.split(';') }]
    : [{ name: 'write path (api,projections,sourcing): placing and reserving', processes: ['api,projections,sourcing'] },
      { name: 'whole service in one process: every order\'s jobs share the cores', processes: ['api,projections,sourcing,jobs'] }];
  for (const { name, processes } of topologies) {
    const withJobs = processes.some((p) => p.split(',').includes('jobs'));
    const burst = await withService(processes, async ({ url, schema, db }) => {
      await seedNetwork(url, db, schema, withJobs);
      const r = await autocannon({ ...ordersLoad(url, 32, sourcingOrder), duration: SECONDS });
      return allocationFigures(db, schema, r['2xx']);
    });
    const steady = await withService(processes, async ({ url, schema, db }) => {
      await seedNetwork(url, db, schema, withJobs);
      const warm = await autocannon({ ...ordersLoad(url, 64, sourcingOrder), duration: 3, overallRate: 500 });
      await allocationFigures(db, schema, warm['2xx']);
      const { rows: [{ p }] } = await db.query(`SELECT coalesce(max(global_position), 0) AS p FROM ${schema}.events`);
      const r = await autocannon({ ...ordersLoad(url, 64, sourcingOrder), duration: SECONDS, overallRate: 500 });
      return { ...(await allocationFigures(db, schema, r['2xx'], Number(p))), rate: r['2xx'] / r.duration };
    });
    rows.push({ figure: `sourcing, ${name}`, value: '' });
    rows.push({ figure: '  orders placed -> allocated per second (32 clients placing)', value: fmt(burst.perSecond) });
    rows.push({ figure: '    allocated / backordered / placed', value: `${fmt(burst.allocated)} / ${burst.backordered} / ${fmt(burst.placed)}` });
    rows.push({ figure: '  placement -> allocation at a steady 500 orders/s: p50 / p99 (ms)', value: `${Math.round(steady.p50)} / ${Math.round(steady.p99)}` });
    rows.push({ figure: '    orders/s offered and accepted; allocated / placed', value: `${fmt(steady.rate)}; ${fmt(steady.allocated)} / ${fmt(steady.placed)}` });
  }
}

let pipelineCounter = 0;
/** A shopper of their own with a card of their own (`tok_…` authorises in the sandbox): nothing for fraud rules to hold. */
function pipelineOrder(): string {
  pipelineCounter++;
  const n = `${process.pid}-${pipelineCounter}`;
  const a = pipelineCounter % SKUS;
  return JSON.stringify({
    channel: 'web', externalId: `P-${n}`, currency: 'EUR', customer: { id: `p-${n}`, email: `p-${n}@example.com` },
    lines: [{ sku: `SKU-${a}`, quantity: 1, unitPrice: 1999 }],
    delivery: { method: 'ship', speed: 'standard', address: { line1: `${pipelineCounter} Hauptstr.`, city: 'Leipzig', postalCode: '04109', country: 'DE', geo: { lat: 51.34, lon: 12.37 } } },
    payment: { method: 'card', token: `tok_bench_${pipelineCounter}` },
  });
}

/**
 * The whole pipeline under load: orders placed for PIPELINE_SECONDS (60 by default) by 32 clients,
 * each scored, authorised at the sandbox gateway, allocated, released and confirmed to the customer.
 * Counts what was lost (placed but never released) and duplicated (two authorisations, two
 * confirmations, two assessments or two releases of one order).
 */
async function pipelineBench(): Promise<void> {
  const seconds = Number(process.env.PIPELINE_SECONDS ?? 60);
  const topology = (process.env.BENCH_TOPOLOGY ?? 'api,projections,sourcing,jobs').split(';');
  const r = await withService(topology, async ({ url, schema, db }) => {
    await seedNetwork(url, db, schema);
    const load = await autocannon({ ...ordersLoad(url, 32, pipelineOrder), duration: seconds });
    const deadline = Date.now() + 300_000;
    // Watched on the orders read model, once a second: scanning the log while it is measured would slow what it measures.
    const count = async (where: string) => Number((await db.query(`SELECT count(*)::int AS n FROM ${schema}.orders WHERE ${where}`)).rows[0].n);
    while ((await count(`status NOT IN ('released', 'rejected', 'cancelled')`)) > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 1000));
    await new Promise((res) => setTimeout(res, 2000));              // let the confirmations still on their way arrive
    const q = async (sql: string) => (await db.query(sql.replaceAll('$s', schema))).rows[0];
    const span = await q(`SELECT extract(epoch FROM (SELECT max(recorded_at) FROM $s.events WHERE type = 'OrderReleased') - (SELECT min(recorded_at) FROM $s.events WHERE type = 'OrderPlaced')) AS s,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.recorded_at - p.recorded_at)) AS p50,
      percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM r.recorded_at - p.recorded_at)) AS p99
      FROM $s.events p JOIN $s.events r ON r.stream_id = p.stream_id AND r.type = 'OrderReleased' WHERE p.type = 'OrderPlaced'`);
    const orders = await q(`SELECT count(*)::int AS placed,
      count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM $s.events r WHERE r.stream_id = p.stream_id AND r.type = 'OrderReleased'))::int AS unreleased
      FROM $s.events p WHERE p.type = 'OrderPlaced'`);
    const twice = await q(`SELECT
      (SELECT count(*)::int FROM (SELECT order_id FROM $s.notifications WHERE kind = 'order_confirmed' GROUP BY order_id HAVING count(*) > 1) x) AS confirmations,
      (SELECT count(*)::int FROM (SELECT stream_id FROM $s.events WHERE type IN ('FraudAssessed', 'OrderReleased', 'PaymentAuthorized') GROUP BY stream_id, type HAVING count(*) > 1) x) AS events,
      (SELECT count(*)::int FROM $s.notifications WHERE kind = 'order_confirmed') AS confirmed`);
    const sandbox = createKnex({ databaseUrl: BASE_URL, schema, poolSize: 1 });
    const authorized = await sandboxAuthorizationCounts(sandbox).finally(() => sandbox.destroy());
    twice.authorizations = [...authorized.values()].filter((n) => n > 1).length;
    return { placed: orders.placed, offered: load['2xx'] / load.duration, released: orders.placed - orders.unreleased, lost: orders.unreleased,
      perSecond: (orders.placed - orders.unreleased) / Number(span.s),
      p50: Number(span.p50) * 1000, p99: Number(span.p99) * 1000, twice, non2xx: load.non2xx, seconds };
  });
  rows.push({ figure: `orders placed -> released per second, ${r.seconds} s of 32 clients placing`, value: fmt(r.perSecond) });
  rows.push({ figure: '  placed per second; placed / released', value: `${fmt(r.offered)}; ${fmt(r.placed)} / ${fmt(r.released)}` });
  rows.push({ figure: '  placement -> release p50 / p99 (ms)', value: `${Math.round(r.p50)} / ${Math.round(r.p99)}` });
  rows.push({ figure: '  lost (placed, never released) / non-2xx', value: `${r.lost} / ${r.non2xx}` });
  rows.push({ figure: '  duplicated: authorisations / confirmations / events', value: `${r.twice.authorizations} / ${r.twice.confirmations} / ${r.twice.events}` });
  rows.push({ figure: '  confirmations sent', value: fmt(r.twice.confirmed) });
}

/** Waits until the given queues hold no job waiting, running or due later. */
async function jobsDone(schema: string, names: string[], ms = 120_000): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues = names.map((name) => new Queue(name, { connection: redis, prefix: `bench-${schema}` }));
  try {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
      if (counts.every((c) => c.waiting + c.active + c.delayed + c.prioritized === 0)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`jobs still running in ${names.join(', ')}`);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    redis.disconnect();
  }
}

interface WorkItem { fulfilmentId: string; lines: { sku: string; quantity: number }[] }

/** Every pending fulfilment, oldest first, as an operator lists them. */
async function pendingFulfilments(url: string): Promise<WorkItem[]> {
  const all: WorkItem[] = [];
  for (let after: number | null = 0; after !== null;) {
    const res = await asOperator(url, 'GET', `/fulfilments?status=pending&limit=200&after=${after}`);
    if (!res.ok) throw new Error(`GET /fulfilments answered ${res.status}`);
    const page = await res.json() as { fulfilments: WorkItem[]; next: number | null };
    all.push(...page.fulfilments);
    after = page.next;
  }
  return all;
}

const SCANNED_AT = ['Leipzig', 'Halle', 'Erfurt', 'Dresden', 'Magdeburg'];
let scans = 0;
let lastScanAt = 0;
/**
 * The next tracking update, signed by its carrier: the shipments in turn, each scan at an instant
 * of its own (so none repeats another); `scan` names it as the log will (tracking number and time).
 */
function trackingUpdate(shipments: { carrierId: string; trackingNumber: string }[]): { path: string; headers: Record<string, string>; body: string; scan: string } {
  const { carrierId, trackingNumber } = shipments[scans % shipments.length];
  lastScanAt = Math.max(Date.now(), lastScanAt + 1);
  const at = new Date(lastScanAt).toISOString();
  const body = JSON.stringify({ trackingNumber, status: 'in_transit', at, location: SCANNED_AT[scans % SCANNED_AT.length] });
  scans++;
  const timestamp = String(Math.floor(Date.now() / 1000));
  return {
    path: `/carriers/${carrierId}/tracking`, body, scan: `${trackingNumber}@${at}`,
    headers: { 'content-type': 'application/json', 'x-carrier-timestamp': timestamp, 'x-carrier-signature': `sha256=${signature(WEBHOOK_SECRETS.get(carrierId)!, timestamp, body)}` },
  };
}

/**
 * Warehouse execution and tracking. FULFILMENT_ORDERS orders (500 per BENCH_SECONDS by default)
 * are placed and released first, not measured. Then 32 operator clients pick (every line) and
 * pack (one package) every pending fulfilment over the API, and the carrier jobs buy their labels
 * at the sandbox carriers (latency as configured): fulfilments labelled per second from the first
 * pick to the last label in the log, pack -> labelled p50/p99, and the labels the carriers hold
 * (exactly one per fulfilment). Then carriers post tracking updates for those shipments from 32
 * clients, each update distinct and signed, at the API process alone (the other roles in a second
 * process): the rate, its p50/p99, and one ShipmentTracked event per 2xx answer. Then every
 * shipment is handed over and delivered, one unit of each order asked back, and 32 operators
 * receive the returns while the refund jobs refund each receipt at the sandbox gateway: returns
 * refunded per second from the first receipt to the last refund in the log, received -> refunded
 * p50/p99, and the gateway's own count of refunds (exactly one per return).
 * BENCH_TOPOLOGY runs it on the processes given instead.
 */
async function fulfilmentBench(): Promise<void> {
  const orders = Math.max(32, Number(process.env.FULFILMENT_ORDERS ?? 500 * SECONDS));
  const topology = (process.env.BENCH_TOPOLOGY ?? 'api;projections,sourcing,jobs').split(';');
  const latencyMs = loadConfig(process.env).carriers.sandbox.latencyMs;
  const base32 = await pgbenchInserts(32);
  const r = await withService(topology, async ({ url, schema, db }) => {
    const q = async (sql: string, params: unknown[] = []) => (await db.query(sql.replaceAll('$s', schema), params)).rows[0];
    await seedNetwork(url, db, schema);
    // Not measured: the orders placed, released and confirmed, their fulfilments listed.
    const placed = await autocannon({ ...ordersLoad(url, 32, pipelineOrder), amount: orders });
    const wait = async (done: () => Promise<boolean>, what: string) => {
      for (const deadline = Date.now() + 300_000; !(await done());) {
        if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    await wait(async () => {
      const r = await q(`SELECT count(*)::int AS n, count(*) FILTER (WHERE status NOT IN ('released', 'rejected', 'cancelled'))::int AS open FROM $s.orders`);
      return r.n >= placed['2xx'] && r.open === 0;
    }, 'the orders to be released');
    const released = Number((await q(`SELECT count(*) AS n FROM $s.orders WHERE status = 'released'`)).n);
    await wait(async () => Number((await q(`SELECT count(*) AS n FROM $s.fulfilments`)).n) >= released, 'the fulfilments of the released orders');
    await jobsDone(schema, [QUEUES.fraudScoring, QUEUES.payments, QUEUES.notifications]);
    const work = await pendingFulfilments(url);
    const { p: start } = await q(`SELECT coalesce(max(global_position), 0) AS p FROM $s.events`);

    // 32 operators, each a client that picks a fulfilment (every line), packs it (one package) and
    // takes the next: one autocannon each, as its `amount` would split pick-pack pairs between connections.
    let next = 0;
    let packed = 0;
    const lines = (context: Record<string, unknown>) => (context.f as WorkItem).lines.map(({ sku, quantity }) => ({ sku, quantity }));
    const operator = (share: number) => autocannon({
      url, connections: 1, amount: 2 * share,
      headers: { authorization: 'Bearer bench-ops', 'content-type': 'application/json' },
      requests: [
        {
          method: 'POST',
          setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
            const f = context.f = work[next++];
            return { ...req, path: `/fulfilments/${f.fulfilmentId}/pick`, body: JSON.stringify({ lines: lines(context) }) };
          },
        },
        {
          method: 'POST',
          setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => ({
            ...req, path: `/fulfilments/${(context.f as WorkItem).fulfilmentId}/pack`,
            body: JSON.stringify({ packages: [{ weightGrams: 1200, lengthCm: 30, widthCm: 20, heightCm: 10, lines: lines(context) }] }),
          }),
          onResponse: (status: number) => { if (status === 202) packed++; },
        },
      ],
    });
    const clients = Math.min(32, work.length);
    const operators = await Promise.all(Array.from({ length: clients }, (_, i) => operator(Math.floor(work.length / clients) + (i < work.length % clients ? 1 : 0))));
    const non2xx = operators.reduce((n, o) => n + o.non2xx + o.errors + o.timeouts, 0);
    // Watched on the fulfilments read model, once a second: scanning the log while it is measured would slow what it measures.
    const labelling = Date.now() + 120_000;
    while (Number((await q(`SELECT count(*) AS n FROM $s.fulfilments WHERE status = 'labelled'`)).n) < packed && Date.now() < labelling) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    const log = await q(`
      WITH picked AS (SELECT min(recorded_at) AS at FROM $s.events WHERE type = 'FulfilmentPicked' AND global_position > $1),
           packed AS (SELECT stream_id, recorded_at FROM $s.events WHERE type = 'FulfilmentPacked' AND global_position > $1),
           labelled AS (SELECT stream_id, min(recorded_at) AS at, count(*) AS n FROM $s.events WHERE type = 'FulfilmentLabelled' AND global_position > $1 GROUP BY stream_id)
      SELECT count(*)::int AS packed, count(l.at)::int AS labelled, count(*) FILTER (WHERE l.n > 1)::int AS twice,
             extract(epoch FROM max(l.at) - (SELECT at FROM picked)) AS span,
             extract(epoch FROM max(p.recorded_at) - (SELECT at FROM picked)) AS packing,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM l.at - p.recorded_at)) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM l.at - p.recorded_at)) AS p99
        FROM packed p LEFT JOIN labelled l USING (stream_id)`, [start]);
    const sandbox = createKnex({ databaseUrl: BASE_URL, schema, poolSize: 1 });
    const labels = await sandboxLabelCounts(sandbox).finally(() => sandbox.destroy());
    const perFulfilment = work.map((f) => labels.get(f.fulfilmentId) ?? 0);

    const { rows: shipments } = await db.query(`SELECT carrier_id AS "carrierId", tracking_number AS "trackingNumber" FROM ${schema}.fulfilments
      WHERE tracking_number IS NOT NULL ORDER BY created_position`);
    if (shipments.length < 32) throw new Error(`only ${shipments.length} shipments to track`);
    // The updates answered 2xx, to find in the log (requests still in flight when a run stops are answered to nobody).
    const answered: string[] = [];
    const trackingLoad = (duration: number) => ({
      url, connections: 32, duration,
      requests: [{
        method: 'POST',
        setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
          const { scan, ...update } = trackingUpdate(shipments);
          context.scan = scan;
          return { ...req, ...update };
        },
        onResponse: (status: number, _body: string, context: Record<string, unknown>) => { if (status >= 200 && status < 300) answered.push(context.scan as string); },
      }],
    });
    await autocannon(trackingLoad(2));                                                          // warm-up
    answered.length = 0;
    const t = await autocannon(trackingLoad(SECONDS));
    const { n: tracked } = await q(`SELECT count(*)::int AS n FROM $s.events
      WHERE type = 'ShipmentTracked' AND (data->>'trackingNumber') || '@' || (data->>'at') = ANY($1)`, [answered]);

    // Returns, received -> refunded. Not measured: every labelled fulfilment handed over and
    // delivered by webhook, and one unit of each order asked back (each order's only line).
    const each = async (list: string[], build: (item: string) => { path: string; body?: string; headers?: Record<string, string> }) => {
      let i = 0;
      const r = await autocannon({
        url, connections: 32, amount: list.length, headers: { authorization: 'Bearer bench-ops', 'content-type': 'application/json' },
        requests: [{ method: 'POST', setupRequest: (req: Record<string, unknown>) => { const b = build(list[i++]); return { ...req, ...b, headers: { ...(req.headers as object), ...b.headers } }; } }],
      });
      if (r.non2xx + r.errors + r.timeouts > 0) console.error(`  (${r.non2xx} non-2xx, ${r.errors + r.timeouts} errors of ${list.length} requests)`);
      return r;
    };
    const { rows: toShip } = await db.query(`SELECT fulfilment_id AS id, carrier_id AS "carrierId", tracking_number AS "trackingNumber", order_id AS "orderId"
      FROM ${schema}.fulfilments WHERE status = 'labelled' ORDER BY created_position`);
    await each(toShip.map((f) => f.id), (id) => ({ path: `/fulfilments/${id}/ship`, body: "{}" }));
    const byId = new Map(toShip.map((f) => [f.id, f]));
    await each(toShip.map((f) => f.id), (id) => {
      const f = byId.get(id)!;
      // After every scan the tracking figure posted (their times run a little ahead of the clock), so it moves the shipment on.
      const body = JSON.stringify({ trackingNumber: f.trackingNumber, status: 'delivered', at: new Date(Math.max(Date.now(), lastScanAt) + 1000).toISOString() });
      const timestamp = String(Math.floor(Date.now() / 1000));
      return { path: `/carriers/${f.carrierId}/tracking`, body, headers: { 'x-carrier-timestamp': timestamp, 'x-carrier-signature': `sha256=${signature(WEBHOOK_SECRETS.get(f.carrierId)!, timestamp, body)}` } };
    });
    await wait(async () => Number((await q(`SELECT count(*) AS n FROM $s.orders WHERE status = 'delivered'`)).n) >= toShip.length, 'the orders to be delivered');
    const { rows: deliveredOrders } = await db.query(`SELECT order_id AS id, lines->0->>'sku' AS sku FROM ${schema}.orders WHERE status = 'delivered'`);
    const skuOf = new Map(deliveredOrders.map((o) => [o.id, o.sku]));
    await each(deliveredOrders.map((o) => o.id), (id) => ({
      path: `/orders/${id}/returns`, body: JSON.stringify({ lines: [{ sku: skuOf.get(id), quantity: 1, reason: 'bench' }], resolution: 'refund' }),
    }));
    await wait(async () => Number((await q(`SELECT count(*) AS n FROM $s.returns`)).n) >= deliveredOrders.length, 'the returns to be opened');
    const { rows: toReceive } = await db.query(`SELECT return_id AS id, state->'lines'->0->>'sku' AS sku FROM ${schema}.returns ORDER BY created_position`);
    const returnSku = new Map(toReceive.map((r) => [r.id, r.sku]));
    await jobsDone(schema, [QUEUES.payments, QUEUES.notifications]);
    // Measured: 32 operators receiving one return each in turn; its refund job refunds the receipt.
    const { p: beforeReceipts } = await q(`SELECT coalesce(max(global_position), 0) AS p FROM $s.events`);
    const receipts = await each(toReceive.map((r) => r.id), (id) => ({
      path: `/returns/${id}/receive`, body: JSON.stringify({ locationId: 'wh-hamburg', lines: [{ sku: returnSku.get(id), quantity: 1, condition: 'resellable' }] }),
    }));
    const refunding = Date.now() + 120_000;
    while (Number((await q(`SELECT count(*) AS n FROM $s.returns WHERE status = 'refunded'`)).n) < receipts['2xx'] && Date.now() < refunding) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    const refundLog = await q(`
      WITH received AS (SELECT stream_id, recorded_at FROM $s.events WHERE type = 'ReturnReceived' AND global_position > $1),
           refunded AS (SELECT stream_id, min(recorded_at) AS at, count(*) AS n FROM $s.events WHERE type = 'ReturnRefunded' AND global_position > $1 GROUP BY stream_id)
      SELECT count(*)::int AS received, count(f.at)::int AS refunded, count(*) FILTER (WHERE f.n > 1)::int AS twice,
             extract(epoch FROM max(f.at) - min(r.recorded_at)) AS span,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.at - r.recorded_at)) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM f.at - r.recorded_at)) AS p99
        FROM received r LEFT JOIN refunded f USING (stream_id)`, [beforeReceipts]);
    const { rows: [refundRecords] } = await db.query(`SELECT count(*)::int AS orders, count(*) FILTER (WHERE n > 1)::int AS twice, coalesce(sum(n), 0)::int AS refunds FROM (
        SELECT a.reference, count(*) AS n FROM ${schema}.sandbox_payment_operations o JOIN ${schema}.sandbox_payment_authorizations a ON a.authorization_id = o.request->>'authorizationId'
         WHERE o.kind = 'refund' AND o.outcome->'result' IS NOT NULL GROUP BY a.reference) x`);

    return {
      returns: {
        asked: toReceive.length, received: refundLog.received as number, refunded: refundLog.refunded as number, twice: refundLog.twice as number,
        perSecond: refundLog.refunded / Number(refundLog.span), p50: Number(refundLog.p50) * 1000, p99: Number(refundLog.p99) * 1000,
        receiptNon2xx: receipts.non2xx + receipts.errors + receipts.timeouts, gatewayRefunds: refundRecords.refunds as number, gatewayTwice: refundRecords.twice as number,
      },
      listed: work.length, packed: log.packed as number, labelled: log.labelled as number, twice: log.twice as number, non2xx,
      perSecond: log.labelled / Number(log.span), packedPerSecond: log.packed / Number(log.packing),
      p50: Number(log.p50) * 1000, p99: Number(log.p99) * 1000,
      unlabelled: perFulfilment.filter((n) => n === 0).length, labelledTwice: perFulfilment.filter((n) => n > 1).length,
      tracking: { rate: t['2xx'] / t.duration, p50: t.latency.p50, p99: t.latency.p99, non2xx: t.non2xx, errors: t.errors + t.timeouts, answered: t['2xx'], tracked: tracked as number },
    };
  });
  const baseline = `pgbench single-row inserts/s, 32 clients: ${fmt(base32)}`;
  rows.push({ figure: `fulfilment, processes ${topology.join(' | ')}; sandbox carrier latency ${latencyMs} ms`, value: '' });
  rows.push({ figure: '  fulfilments released -> labelled per second, 32 operators picking and packing', value: fmt(r.perSecond), baseline });
  rows.push({ figure: '    picked and packed per second (first pick -> last pack)', value: fmt(r.packedPerSecond) });
  rows.push({ figure: '    pack -> labelled p50 / p99 (ms)', value: `${Math.round(r.p50)} / ${Math.round(r.p99)}` });
  rows.push({ figure: '    fulfilments listed / packed / labelled; non-2xx or errors', value: `${fmt(r.listed)} / ${fmt(r.packed)} / ${fmt(r.labelled)}; ${r.non2xx}` });
  rows.push({ figure: '    lost (listed, never labelled) / labelled twice in the log', value: `${r.listed - r.labelled} / ${r.twice}` });
  rows.push({ figure: '    labels at the carriers: fulfilments with none / more than one', value: `${r.unlabelled} / ${r.labelledTwice}` });
  rows.push({ figure: `  tracking webhooks/s, 32 clients, API process (OMS_ROLES=${topology[0]})`, value: fmt(r.tracking.rate), baseline });
  rows.push({ figure: '    latency p50 / p99 (ms)', value: `${r.tracking.p50} / ${r.tracking.p99}` });
  rows.push({ figure: '    non-2xx / errors', value: `${r.tracking.non2xx} / ${r.tracking.errors}` });
  rows.push({ figure: '    ShipmentTracked events for the updates answered 2xx / 2xx answers', value: `${fmt(r.tracking.tracked)} / ${fmt(r.tracking.answered)}` });
  rows.push({ figure: '  returns received -> refunded per second, 32 operators receiving', value: fmt(r.returns.perSecond), baseline });
  rows.push({ figure: '    received -> refunded p50 / p99 (ms)', value: `${Math.round(r.returns.p50)} / ${Math.round(r.returns.p99)}` });
  rows.push({ figure: '    returns asked / received / refunded; receipts non-2xx or errors', value: `${fmt(r.returns.asked)} / ${fmt(r.returns.received)} / ${fmt(r.returns.refunded)}; ${r.returns.receiptNon2xx}` });
  rows.push({ figure: '    refunds at the gateway / orders refunded twice there / returns refunded twice in the log', value: `${fmt(r.returns.gatewayRefunds)} / ${r.returns.gatewayTwice} / ${r.returns.twice}` });
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const only = process.argv[2];
  console.log(`oms bench: ${SECONDS} s per figure, database ${BASE_URL}`);
  if (!only || only === 'event-store') {
    const base1 = await pgbenchInserts(1);
    const app1 = await eventStoreAppends(1);
    rows.push({ figure: 'event-store appends/s, concurrency 1', value: fmt(app1), baseline: `pgbench single-row inserts/s, 1 client: ${fmt(base1)}` });
    const base32 = await pgbenchInserts(32);
    const app32 = await eventStoreAppends(32);
    rows.push({ figure: 'event-store appends/s, concurrency 32', value: fmt(app32), baseline: `pgbench single-row inserts/s, 32 clients: ${fmt(base32)}` });
  }
  if (!only || only === 'api') {
    const base32 = await pgbenchInserts(32);
    const api = await postOrders(32, 'api');
    rows.push({ figure: 'POST /orders/s, 32 clients, API process (OMS_ROLES=api)', value: fmt(api.rate), baseline: `pgbench single-row inserts/s, 32 clients: ${fmt(base32)}` });
    rows.push({ figure: '  latency p50 / p99 (ms)', value: `${api.p50} / ${api.p99}` });
    rows.push({ figure: '  non-2xx / errors', value: `${api.non2xx} / ${api.errors}` });
    const all = await postOrders(32, 'api,projections,sourcing,jobs');
    rows.push({ figure: 'POST /orders/s, 32 clients, whole service in one process', value: fmt(all.rate) });
    rows.push({ figure: '  latency p50 / p99 (ms)', value: `${all.p50} / ${all.p99}` });
    rows.push({ figure: '  non-2xx / errors', value: `${all.non2xx} / ${all.errors}` });
    const b = all.backlog!;
    rows.push({ figure: '  pipeline backlog at end: events / orders unscored', value: `${fmt(b.events)} / ${fmt(b.unscored)}` });
    rows.push({ figure: '  time to drain it (s)', value: b.drainSeconds.toFixed(1) });
  }
  if (!only || only === 'sourcing') await sourcingBench();
  if (!only || only === 'pipeline') await pipelineBench();
  if (!only || only === 'fulfilment') await fulfilmentBench();
  console.log('');
  const w = Math.max(...rows.map((r) => r.figure.length));
  for (const r of rows) console.log(`${r.figure.padEnd(w)}  ${r.value.padStart(12)}${r.baseline ? `   (baseline: ${r.baseline})` : ''}`);
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
