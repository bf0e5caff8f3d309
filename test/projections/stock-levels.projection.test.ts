import { expect } from 'chai';
import type { Knex } from 'knex';
import type { Recorded } from '../../write-side/to-domain.js';
import { stockLevelsProjection } from '../../projections/stock-levels.projection.js';
import { stockStream, type StockEvent } from '../../write-side/inventory/stock.decider.js';
import { recordedLog } from '../support/recorded-events.js';
import { readModelWorld } from '../support/world.js';

const at = (minute: number) => `2026-11-26T10:${String(minute).padStart(2, '0')}:00.000Z`;

/** The ledger of one SKU at one location, as events of its stream. */
function ledger(record: ReturnType<typeof recordedLog>, sku: string, locationId: string) {
  const base = (minute: number) => ({ sku, locationId, at: at(minute) });
  const one = (e: StockEvent) => record(stockStream(sku, locationId), e)[0];
  return {
    received: (quantity: number, minute = 0) => one({ type: 'StockReceived', data: { ...base(minute), quantity } }),
    adjusted: (delta: number, minute = 0) => one({ type: 'StockAdjusted', data: { ...base(minute), delta, reason: 'count' } }),
    reserved: (orderId: string, quantity: number, minute = 0) => one({ type: 'StockReserved', data: { ...base(minute), orderId, quantity } }),
    released: (orderId: string, quantity: number, minute = 0) => one({ type: 'StockReservationReleased', data: { ...base(minute), orderId, quantity, reason: 'cancelled' } }),
    shipped: (orderId: string, quantity: number, minute = 0) => one({ type: 'StockShipped', data: { ...base(minute), orderId, quantity } }),
    returned: (quantity: number, minute = 0) => one({ type: 'StockReturned', data: { ...base(minute), quantity, reference: 'rma-1' } }),
    quarantined: (quantity: number, minute = 0) => one({ type: 'StockQuarantined', data: { ...base(minute), quantity, reason: 'damaged' } }),
    safetyStock: (quantity: number, minute = 0) => one({ type: 'SafetyStockSet', data: { ...base(minute), quantity } }),
    sent: (transferId: string, to: string, quantity: number, minute = 0) => one({ type: 'StockTransferredOut', data: { ...base(minute), transferId, to, quantity } }),
    arrived: (transferId: string, from: string, quantity: number, minute = 0) => one({ type: 'StockTransferredIn', data: { ...base(minute), transferId, from, quantity } }),
  };
}

describe('stock levels projection', () => {
  let knex: Knex;
  let cleanup: () => Promise<void>;
  let record: ReturnType<typeof recordedLog>;
  beforeEach(async () => { ({ knex, cleanup } = await readModelWorld()); record = recordedLog(); });
  afterEach(async () => { await cleanup(); });

  const inBatch = (events: Recorded<StockEvent>[], into = knex) => into.transaction((trx) => stockLevelsProjection.applyBatch!(events, trx));
  const oneByOne = (events: Recorded<StockEvent>[], into = knex) => into.transaction(async (trx) => { for (const e of events) await stockLevelsProjection.apply(e, trx); });
  const levels = async (into = knex) => (await into('stock_levels').orderBy(['sku', 'location_id']))
    .map((r) => ({ sku: r.sku, locationId: r.location_id, onHand: Number(r.on_hand), reserved: Number(r.reserved), quarantined: Number(r.quarantined), safetyStock: Number(r.safety_stock), updatedAt: r.updated_at.toISOString() }));
  const transfers = async () => (await knex('transfers').orderBy('transfer_id'))
    .map((r) => ({ transferId: r.transfer_id, sku: r.sku, from: r.from_location, to: r.to_location, quantity: Number(r.quantity), status: r.status, sentAt: r.sent_at.toISOString(), receivedAt: r.received_at?.toISOString() ?? null }));

  it('folds every movement of a ledger into on hand, reserved and quarantined, as of its latest event', async () => {
    const a = ledger(record, 'SKU-1', 'wh-1');
    await inBatch([
      a.received(10, 1), a.adjusted(-1, 2), a.reserved('o-1', 3, 3), a.reserved('o-2', 2, 4), a.released('o-2', 2, 5),
      a.shipped('o-1', 3, 6), a.returned(1, 7), a.quarantined(2, 8),
    ]);
    expect(await levels()).to.deep.equal([{ sku: 'SKU-1', locationId: 'wh-1', onHand: 7, reserved: 0, quarantined: 2, safetyStock: 0, updatedAt: at(8) }]);
  });

  it('keeps each SKU at each location on a row of its own, and adds later batches to it', async () => {
    const a = ledger(record, 'SKU-1', 'wh-1');
    const b = ledger(record, 'SKU-1', 'store-1');
    const c = ledger(record, 'SKU-2', 'wh-1');
    await inBatch([a.received(10, 1), b.received(4, 2), c.received(6, 3), a.reserved('o-1', 2, 4)]);
    await inBatch([a.received(5, 9), b.reserved('o-2', 1, 9)]);
    // A late event with an earlier time leaves the row's time as it was.
    await inBatch([c.adjusted(-1, 0)]);
    expect(await levels()).to.deep.equal([
      { sku: 'SKU-1', locationId: 'store-1', onHand: 4, reserved: 1, quarantined: 0, safetyStock: 0, updatedAt: at(9) },
      { sku: 'SKU-1', locationId: 'wh-1', onHand: 15, reserved: 2, quarantined: 0, safetyStock: 0, updatedAt: at(9) },
      { sku: 'SKU-2', locationId: 'wh-1', onHand: 5, reserved: 0, quarantined: 0, safetyStock: 0, updatedAt: at(3) },
    ]);
  });

  it('holds the safety stock last set', async () => {
    const a = ledger(record, 'SKU-1', 'wh-1');
    await inBatch([a.received(10, 1), a.safetyStock(3, 2), a.safetyStock(2, 3)]);
    await inBatch([a.safetyStock(4, 4)]);
    expect((await levels())[0]).to.include({ onHand: 10, safetyStock: 4, updatedAt: at(4) });
  });

  it('moves transferred units out of one location into transit, then into the other once received', async () => {
    const from = ledger(record, 'SKU-1', 'wh-1');
    const to = ledger(record, 'SKU-1', 'store-1');
    await inBatch([from.received(10, 1), from.sent('t-1', 'store-1', 4, 2)]);
    expect(await transfers()).to.deep.equal([{ transferId: 't-1', sku: 'SKU-1', from: 'wh-1', to: 'store-1', quantity: 4, status: 'in_transit', sentAt: at(2), receivedAt: null }]);
    expect((await levels()).map((l) => [l.locationId, l.onHand])).to.deep.equal([['wh-1', 6]]);
    await inBatch([to.arrived('t-1', 'wh-1', 4, 30)]);
    expect(await transfers()).to.deep.equal([{ transferId: 't-1', sku: 'SKU-1', from: 'wh-1', to: 'store-1', quantity: 4, status: 'received', sentAt: at(2), receivedAt: at(30) }]);
    expect((await levels()).map((l) => [l.locationId, l.onHand])).to.deep.equal([['store-1', 4], ['wh-1', 6]]);
  });

  it('makes the same rows of a batch as of its events applied one by one (what the runner falls back to)', async () => {
    const a = ledger(record, 'SKU-1', 'wh-1');
    const b = ledger(record, 'SKU-1', 'store-1');
    const events = [
      a.received(10, 1), a.safetyStock(2, 2), a.reserved('o-1', 3, 3), a.sent('t-1', 'store-1', 4, 4), b.arrived('t-1', 'wh-1', 4, 5),
      b.reserved('o-2', 1, 6), a.shipped('o-1', 3, 7), b.quarantined(1, 8), a.safetyStock(1, 9),
    ];
    const other = await readModelWorld();
    try {
      await inBatch(events);
      await oneByOne(events, other.knex);
      expect(await levels(other.knex)).to.deep.equal(await levels());
      expect(await other.knex('transfers').select('transfer_id', 'status', 'received_at')).to.deep.equal(await knex('transfers').select('transfer_id', 'status', 'received_at'));
    } finally {
      await other.cleanup();
    }
  });
});
