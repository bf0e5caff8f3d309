import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import type { Knex } from 'knex';

interface StockRow { location_id: string; on_hand: number; reserved: number; quarantined: number; safety_stock: number; in_transit: number }

/**
 * A SKU's stock per location, and the units on their way to each (sent on a transfer, not yet
 * received): a destination is listed even before it has held the SKU, and the totals count them.
 */
export async function stockForSku(knex: Knex, sku: string) {
  const { rows } = await knex.raw<{ rows: StockRow[] }>(
    `SELECT coalesce(s.location_id, t.to_location) AS location_id, coalesce(s.on_hand, 0) AS on_hand, coalesce(s.reserved, 0) AS reserved,
            coalesce(s.quarantined, 0) AS quarantined, coalesce(s.safety_stock, 0) AS safety_stock, coalesce(t.quantity, 0) AS in_transit
       FROM (SELECT * FROM stock_levels WHERE sku = :sku) s
       FULL JOIN (SELECT to_location, sum(quantity)::bigint AS quantity FROM transfers WHERE sku = :sku AND status = 'in_transit' GROUP BY to_location) t
         ON t.to_location = s.location_id
      ORDER BY 1`,
    { sku },
  );
  if (rows.length === 0) return null;
  const locations = rows.map((r) => ({
    locationId: r.location_id,
    onHand: r.on_hand,
    reserved: r.reserved,
    quarantined: r.quarantined,
    safetyStock: r.safety_stock,
    available: Math.max(0, r.on_hand - r.reserved - r.quarantined - r.safety_stock),
    inTransit: r.in_transit,
  }));
  const totals = locations.reduce((t, l) => ({ onHand: t.onHand + l.onHand, reserved: t.reserved + l.reserved, available: t.available + l.available, inTransit: t.inTransit + l.inTransit }),
    { onHand: 0, reserved: 0, available: 0, inTransit: 0 });
  return { sku, totals, locations };
}

/** The ledgers worth reading for these SKUs: every location where any of them has been stocked. */
export async function stockedAt(knex: Knex, skus: readonly string[]): Promise<{ sku: string; locationId: string }[]> {
  const rows = await knex('stock_levels').whereIn('sku', skus).select<{ sku: string; location_id: string }[]>('sku', 'location_id');
  return rows.map((r) => ({ sku: r.sku, locationId: r.location_id }));
}

/**
 * `stockedAt` for many concurrent callers: the SKUs asked for in the same tick are looked up in
 * one query, and each SKU's answer is kept for `ttlMs`. Where a SKU is stocked changes seldom,
 * and a stale answer only narrows the first plan: the allocator reads every location's ledger
 * before it backorders.
 */
export function batchedStockedAt(knex: Knex, { ttlMs = 1000 } = {}): (skus: string[]) => Promise<{ sku: string; locationId: string }[]> {
  const loader = new DataLoader<string, string[]>(async (skus) => {
    const bySku = new Map<string, string[]>(skus.map((sku) => [sku, []]));
    for (const r of await stockedAt(knex, skus)) bySku.get(r.sku)?.push(r.locationId);
    return skus.map((sku) => bySku.get(sku)!);
  }, { maxBatchSize: 1000, cacheMap: new LRUCache<string, Promise<string[]>>({ max: 100_000, ttl: ttlMs }) });
  return async (skus) => (await loader.loadMany(skus)).flatMap((at, i) => {
    if (at instanceof Error) throw at;
    return at.map((locationId) => ({ sku: skus[i], locationId }));
  });
}

/** Backordered orders that want this SKU (on fraud hold or not), oldest first: the order they are filled in. */
export async function backordersFor(knex: Knex, sku: string, limit = 500): Promise<string[]> {
  const rows = await knex('orders').whereRaw('backorder IS NOT NULL AND cancelled_at IS NULL AND rejection IS NULL AND lines @> ?::jsonb', [JSON.stringify([{ sku }])])
    .orderBy('placed_position').limit(limit).select<{ order_id: string }[]>('order_id');
  return rows.map((r) => r.order_id);
}

export async function findTransfer(knex: Knex, transferId: string) {
  const r = await knex('transfers').where({ transfer_id: transferId }).first();
  if (!r) return null;
  return {
    transferId: r.transfer_id as string, sku: r.sku as string, from: r.from_location as string, to: r.to_location as string,
    quantity: Number(r.quantity), status: r.status as string, sentAt: (r.sent_at as Date).toISOString(), receivedAt: r.received_at ? (r.received_at as Date).toISOString() : null,
    ...(r.fulfilment_id ? { orderId: r.order_id as string, fulfilmentId: r.fulfilment_id as string } : {}),
  };
}
