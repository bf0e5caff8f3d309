import type { Knex } from 'knex';
import type { StockEvent } from '../write-side/inventory/stock.decider.js';
import type { Recorded } from '../write-side/to-domain.js';
import type { Projection } from './projection.js';

// Stock per SKU and location, and transfers in transit, folded from the ledger. A batch's
// movements are summed per SKU and location and written in one statement.

interface Level { sku: string; location_id: string; on_hand: number; reserved: number; quarantined: number; updated_at: string }

export const stockLevelsProjection: Projection<StockEvent> = {
  name: 'stock-levels',
  handles: ['StockReceived', 'StockAdjusted', 'StockReserved', 'StockReservationReleased', 'StockShipped', 'StockTransferredOut',
    'StockTransferredIn', 'StockReturned', 'StockQuarantined', 'SafetyStockSet'] satisfies StockEvent['type'][],
  async apply(event, trx) {
    await applyStock([event], trx);
  },
  applyBatch: applyStock,
};

async function applyStock(events: Recorded<StockEvent>[], trx: Knex.Transaction): Promise<void> {
  const levels = new Map<string, Level>();
  const sent: Record<string, unknown>[] = [];
  const arrived: { transferId: string; at: string }[] = [];
  const safety = new Map<string, { sku: string; location_id: string; safety_stock: number }>();
  for (const e of events) {
    const { sku, locationId, at } = e.data;
    const key = `${sku}@${locationId}`;
    const level = levels.get(key) ?? { sku, location_id: locationId, on_hand: 0, reserved: 0, quarantined: 0, updated_at: at };
    levels.set(key, level);
    level.updated_at = at > level.updated_at ? at : level.updated_at;
    switch (e.type) {
      case 'StockReceived':
      case 'StockReturned':
        level.on_hand += e.data.quantity; break;
      case 'StockAdjusted':
        level.on_hand += e.data.delta; break;
      case 'StockReserved':
        level.reserved += e.data.quantity; break;
      case 'StockReservationReleased':
        level.reserved -= e.data.quantity; break;
      case 'StockShipped':
        level.on_hand -= e.data.quantity; level.reserved -= e.data.quantity; break;
      case 'StockQuarantined':
        level.quarantined += e.data.quantity; break;
      case 'SafetyStockSet':
        safety.set(key, { sku, location_id: locationId, safety_stock: e.data.quantity }); break;
      case 'StockTransferredOut':
        level.on_hand -= e.data.quantity;
        sent.push({
          transfer_id: e.data.transferId, sku, from_location: locationId, to_location: e.data.to, quantity: e.data.quantity, status: 'in_transit', sent_at: at,
          order_id: e.data.orderId ?? null, fulfilment_id: e.data.fulfilmentId ?? null,
        });
        break;
      case 'StockTransferredIn':
        level.on_hand += e.data.quantity;
        arrived.push({ transferId: e.data.transferId, at });
        break;
      default: {
        const unknown: never = e;
        void unknown;
      }
    }
  }
  await trx.raw(
    `INSERT INTO stock_levels AS s (sku, location_id, on_hand, reserved, quarantined, updated_at)
       SELECT * FROM jsonb_to_recordset(?::jsonb)
         AS v(sku text, location_id text, on_hand bigint, reserved bigint, quarantined bigint, updated_at timestamptz)
     ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = s.on_hand + excluded.on_hand, reserved = s.reserved + excluded.reserved,
       quarantined = s.quarantined + excluded.quarantined, updated_at = greatest(s.updated_at, excluded.updated_at)`,
    [JSON.stringify([...levels.values()])],
  );
  for (const s of safety.values()) {
    await trx('stock_levels').where({ sku: s.sku, location_id: s.location_id }).update({ safety_stock: s.safety_stock });
  }
  if (sent.length > 0) await trx('transfers').insert(sent).onConflict('transfer_id').ignore();
  for (const a of arrived) await trx('transfers').where({ transfer_id: a.transferId }).update({ status: 'received', received_at: a.at });
}
