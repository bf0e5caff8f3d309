import type { Knex } from 'knex';
import type { StockEvent } from '../write-side/inventory/stock.decider.js';
import type { Projection } from './projection.js';

// Stock per SKU and location, and transfers in transit, folded from the ledger.

interface Change { onHand?: number; reserved?: number; quarantined?: number; safetyStock?: number }

export const stockLevelsProjection: Projection = {
  name: 'stock-levels',
  handles: ['StockReceived', 'StockAdjusted', 'StockReserved', 'StockReservationReleased', 'StockShipped', 'StockTransferredOut',
    'StockTransferredIn', 'StockReturned', 'StockQuarantined', 'SafetyStockSet'] satisfies StockEvent['type'][],
  async apply(event, trx) {
    const e = event as unknown as StockEvent;
    const { sku, locationId, at } = e.data;
    switch (e.type) {
      case 'StockReceived':
      case 'StockReturned':
        return move(trx, sku, locationId, at, { onHand: e.data.quantity });
      case 'StockAdjusted':
        return move(trx, sku, locationId, at, { onHand: e.data.delta });
      case 'StockReserved':
        return move(trx, sku, locationId, at, { reserved: e.data.quantity });
      case 'StockReservationReleased':
        return move(trx, sku, locationId, at, { reserved: -e.data.quantity });
      case 'StockShipped':
        return move(trx, sku, locationId, at, { onHand: -e.data.quantity, reserved: -e.data.quantity });
      case 'StockQuarantined':
        return move(trx, sku, locationId, at, { quarantined: e.data.quantity });
      case 'SafetyStockSet':
        await move(trx, sku, locationId, at, {});
        await trx('stock_levels').where({ sku, location_id: locationId }).update({ safety_stock: e.data.quantity });
        return;
      case 'StockTransferredOut':
        await move(trx, sku, locationId, at, { onHand: -e.data.quantity });
        await trx('transfers').insert({
          transfer_id: e.data.transferId, sku, from_location: locationId, to_location: e.data.to, quantity: e.data.quantity, status: 'in_transit', sent_at: at,
        }).onConflict('transfer_id').ignore();
        return;
      case 'StockTransferredIn':
        await move(trx, sku, locationId, at, { onHand: e.data.quantity });
        await trx('transfers').where({ transfer_id: e.data.transferId }).update({ status: 'received', received_at: at });
        return;
      default: {
        const unknown: never = e;
        void unknown;
      }
    }
  },
};

async function move(trx: Knex.Transaction, sku: string, locationId: string, at: string, c: Change): Promise<void> {
  await trx.raw(
    `INSERT INTO stock_levels AS s (sku, location_id, on_hand, reserved, quarantined, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = s.on_hand + excluded.on_hand, reserved = s.reserved + excluded.reserved,
       quarantined = s.quarantined + excluded.quarantined, updated_at = excluded.updated_at`,
    [sku, locationId, c.onHand ?? 0, c.reserved ?? 0, c.quarantined ?? 0, at],
  );
}
