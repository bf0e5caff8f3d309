import { spawn, execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { v7 as uuid } from 'uuid';
import { PostgresEventStore, migratePostgresEventStore } from '../event-store/postgres/postgres-event-store.js';
import { createKnex, createPgPool, ensureDatabase } from '../platform/db.js';

// `npm run bench`: figures for the event store and the API, each beside PostgreSQL's own
// single-row insert rate (pgbench) on the same database at the same concurrency.

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/oms_bench';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

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
  const knex = createKnex(s);
  await migratePostgresEventStore(knex, s.schema);
  await knex.destroy();
  const pool = createPgPool(s);
  const store = new PostgresEventStore(pool, s);
  let done = 0;
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) {
      await store.append(`bench-${uuid()}`, [{ id: uuid(), type: 'BenchHappened', data: { n: done }, metadata: { correlationId: 'bench' } }], 'no_stream');
      done++;
    }
  }));
  const rate = done / SECONDS;
  await store.close();
  await pool.end();
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

/** POST /orders against the service started as its own process with the given roles. */
async function postOrders(connections: number, roles: string): Promise<ApiFigures> {
  const s = await freshSchema('api');
  const port = 3900 + Math.floor(Math.random() * 90);
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []), 'dist/main.js'], {
    env: {
      ...process.env, DATABASE_URL: BASE_URL, DATABASE_SCHEMA: s.schema, PORT: String(port), HOST: '127.0.0.1', REDIS_URL,
      OMS_ROLES: roles, QUEUE_PREFIX: `bench-${s.schema}`, OMS_API_KEYS: 'bench-key:client', LOG_LEVEL: 'warn', PG_POOL_SIZE: '16',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const db = new pg.Client({ connectionString: BASE_URL });
  await db.connect();
  try {
    await waitForHealth(url);
    const opts = {
      url, connections,
      headers: { authorization: 'Bearer bench-key', 'content-type': 'application/json' },
      requests: [{ method: 'POST', path: '/orders', setupRequest: (req: Record<string, unknown>) => ({ ...req, body: orderBody() }) }],
    };
    await autocannon({ ...opts, duration: 2 });                                // warm-up
    const r = await autocannon({ ...opts, duration: SECONDS });
    const figures: ApiFigures = { rate: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
    if (roles.includes('projections')) {
      // How far behind the pipeline (projections, fraud scoring) was when the load stopped, and how long it took to catch up.
      const lag = async () => (await db.query(`SELECT (SELECT max(global_position) FROM ${s.schema}.events) - (SELECT min(position) FROM ${s.schema}.projection_checkpoints) AS events,
        (SELECT count(*) FROM ${s.schema}.events WHERE type = 'OrderPlaced') - (SELECT count(*) FROM ${s.schema}.events WHERE type = 'FraudAssessed') AS unscored`)).rows[0];
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
  } finally {
    await db.end();
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    await dropSchema(s.schema);
  }
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
    const all = await postOrders(32, 'api,projections,jobs');
    rows.push({ figure: 'POST /orders/s, 32 clients, whole service in one process', value: fmt(all.rate) });
    rows.push({ figure: '  latency p50 / p99 (ms)', value: `${all.p50} / ${all.p99}` });
    rows.push({ figure: '  non-2xx / errors', value: `${all.non2xx} / ${all.errors}` });
    const b = all.backlog!;
    rows.push({ figure: '  pipeline backlog at end: events / orders unscored', value: `${fmt(b.events)} / ${fmt(b.unscored)}` });
    rows.push({ figure: '  time to drain it (s)', value: b.drainSeconds.toFixed(1) });
  }
  console.log('');
  const w = Math.max(...rows.map((r) => r.figure.length));
  for (const r of rows) console.log(`${r.figure.padEnd(w)}  ${r.value.padStart(12)}${r.baseline ? `   (baseline: ${r.baseline})` : ''}`);
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
