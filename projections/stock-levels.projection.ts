import type { StockEvent } from '../write-side/inventory/stock.decider.js';
import type { Projection } from './projection.js';

export const stockLevelsProjection: Projection = {
  name: 'stock-levels',
  handles: ['StockReceived', 'StockAdjusted'] satisfies StockEvent['type'][],
  async apply(event, trx) {
    const e = event as unknown as StockEvent;
    const delta = e.type === 'StockReceived' ? e.data.quantity : e.data.delta;
    await trx.raw(
      `INSERT INTO stock_levels (sku, location_id, on_hand, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = stock_levels.on_hand + excluded.on_hand, updated_at = excluded.updated_at`,
      [e.data.sku, e.data.locationId, delta, e.data.at],
    );
  },
};
