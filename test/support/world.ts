import type { Knex } from 'knex';
import type pg from 'pg';
import { PostgresEventStore, openPostgresEventStore } from '../../event-store/postgres/postgres-event-store.js';
import { createKnex, type DbSettings } from '../../platform/db.js';
import { migrate } from '../../platform/migrate.js';
import { schemaMigrations } from '../../platform/schema.migrations.js';
import { createWriteSide, type WriteSide } from '../../write-side/commands.js';
import { NOW } from './given-when-then.js';
import { isolatedSchema } from './test-env.js';

/** An event store in a schema of its own, with the write side on it. */
export async function eventStoreWorld(): Promise<{ db: DbSettings; pool: pg.Pool; store: PostgresEventStore; write: WriteSide; cleanup(): Promise<void> }> {
  const db = await isolatedSchema('log');
  const { store, pool, close } = await openPostgresEventStore(db);
  return { db, pool, store, write: createWriteSide(store), async cleanup() { await close(); await db.drop(); } };
}

/** Read-model tables in a schema of their own; `name` is the application_name of its sessions. */
export async function readModelWorld(options: { name?: string } = {}): Promise<{ knex: Knex; cleanup(): Promise<void> }> {
  const db = await isolatedSchema('rm');
  const knex = createKnex(db, { name: options.name });
  await migrate(knex, 'oms_migrations', schemaMigrations, db.schema);
  return { knex, async cleanup() { await knex.destroy(); await db.drop(); } };
}

const meta = (i: number) => ({ now: new Date(Date.parse(NOW) + i * 1000).toISOString(), correlationId: `c-${i}`, actor: { kind: 'system' as const } });

/** A busy log: locations, stock movements, orders, fraud results and cancellations. */
export async function writeHistory(write: WriteSide, orders = 120): Promise<string[]> {
  for (const id of ['wh-1', 'store-1']) {
    await write.registerLocation({ locationId: id, name: id, type: id.startsWith('wh') ? 'warehouse' : 'store', geo: { lat: 1, lon: 2 }, canShip: true, canPickup: true }, meta(0));
  }
  const ids: string[] = [];
  for (let i = 0; i < orders; i++) {
    const sku = `SKU-${i % 7}`;
    await write.onLedger({ type: 'ReceiveStock', data: { sku, locationId: i % 2 ? 'wh-1' : 'store-1', quantity: 5 + (i % 3) }, metadata: meta(i) });
    if (i % 5 === 0) await write.onLedger({ type: 'AdjustStock', data: { sku, locationId: i % 2 ? 'wh-1' : 'store-1', delta: -1, reason: 'damaged' }, metadata: meta(i) });
    const placed = await write.placeOrder({
      channel: i % 2 ? 'web' : 'marketplace', source: i % 2 ? undefined : 'shopee', externalId: `EXT-${i}`, currency: 'USD',
      customer: { id: `cust-${i % 11}`, email: `c${i % 11}@example.com` }, lines: [{ sku, quantity: 1 + (i % 4), unitPrice: 1000 + i }],
      delivery: { method: 'ship', speed: 'standard', address: { line1: `${i % 9} Road`, city: 'Town', postalCode: '1000', country: 'DE' } },
      payment: { method: 'card', token: 'tok_ok' }, placedBy: 'test',
    }, meta(i));
    ids.push(placed.orderId);
    if (i % 3 === 0) await write.recordFraudAssessment(placed.orderId, { score: i % 100, decision: 'approve', reasons: [{ code: 'x', points: i % 100, detail: 'x' }] }, meta(i));
    if (i % 4 === 0) await write.cancelOrder(placed.orderId, 'customer asked', meta(i));
  }
  return ids;
}
