import type { Knex } from 'knex';

export async function stockForSku(knex: Knex, sku: string) {
  const rows = await knex('stock_levels').where({ sku }).orderBy('location_id')
    .select<{ location_id: string; on_hand: number; reserved: number; safety_stock: number }[]>('location_id', 'on_hand', 'reserved', 'safety_stock');
  if (rows.length === 0) return null;
  const locations = rows.map((r) => ({
    locationId: r.location_id,
    onHand: r.on_hand,
    reserved: r.reserved,
    safetyStock: r.safety_stock,
    available: Math.max(0, r.on_hand - r.reserved - r.safety_stock),
  }));
  const totals = locations.reduce((t, l) => ({ onHand: t.onHand + l.onHand, reserved: t.reserved + l.reserved, available: t.available + l.available }),
    { onHand: 0, reserved: 0, available: 0 });
  return { sku, totals, locations };
}
