import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { DEFAULT_SOURCING_COSTS } from '../../platform/config.js';
import { ordersProjection } from '../../projections/orders.projection.js';
import type { Projection } from '../../projections/projection.js';
import { stockLevelsProjection } from '../../projections/stock-levels.projection.js';
import { createWriteSide } from '../../write-side/commands.js';
import type { LocationDetails } from '../../write-side/locations/location.decider.js';
import type { PlacedState } from '../../write-side/orders/order.state.js';
import { createAllocator } from '../../write-side/sourcing/allocator.js';
import { toDomain, type Recorded } from '../../write-side/to-domain.js';
import { meta } from '../support/given-when-then.js';
import { MemoryEventStore } from '../support/memory-event-store.js';
import { readModelWorld } from '../support/world.js';

const locations: LocationDetails[] = [
  { locationId: 'wh-1', name: 'WH 1', type: 'warehouse', geo: { lat: 52, lon: 13 }, canShip: true, canPickup: false, handlingCost: 100, active: true, cutoffHour: 16 },
  { locationId: 'wh-2', name: 'WH 2', type: 'warehouse', geo: { lat: 48, lon: 11 }, canShip: true, canPickup: false, handlingCost: 100, active: true, cutoffHour: 16 },
];
const SKU = 'HOT';

/** Units per location in the `reserved` allocations of every order, and in all of them whatever their status. */
async function allocatedUnits(knex: Knex): Promise<{ reserved: Record<string, number>; listed: number }> {
  const { rows } = await knex.raw(`
    SELECT a->>'locationId' AS location_id, a->>'status' AS status, sum((l->>'quantity')::int)::int AS units
      FROM orders, jsonb_array_elements(allocations) a, jsonb_array_elements(a->'lines') l
     WHERE l->>'sku' = ? GROUP BY 1, 2`, [SKU]);
  const reserved: Record<string, number> = {};
  for (const r of rows as { location_id: string; status: string; units: number }[]) if (r.status === 'reserved') reserved[r.location_id] = r.units;
  return { reserved, listed: (rows as { units: number }[]).reduce((n, r) => n + r.units, 0) };
}

async function project(knex: Knex, projection: Projection, events: Recorded[]): Promise<void> {
  const mine = events.filter((e) => (projection.handles as readonly string[]).includes(e.type));
  for (let i = 0; i < mine.length; i += 50) await knex.transaction((trx) => projection.applyBatch!(mine.slice(i, i + 50), trx));
}

describe('reserved allocations in the orders read model', function () {
  this.timeout(60_000);
  let rm: Awaited<ReturnType<typeof readModelWorld>>;
  before(async () => { rm = await readModelWorld(); });
  after(async () => { await rm.cleanup(); });

  it('sum to what the stock read model shows reserved after a race for 60 units, rejections, cancellations, a re-sourcing and shipments', async () => {
    const store = new MemoryEventStore();
    const write = createWriteSide(store);
    const allocator = createAllocator({
      write, locations: async () => locations, costs: DEFAULT_SOURCING_COSTS, fulfilmentsToday: async () => new Map(),
      stockedAt: async (skus) => skus.flatMap((sku) => locations.map((l) => ({ sku, locationId: l.locationId }))),
    });
    for (const l of locations) await write.onLedger({ type: 'ReceiveStock', data: { sku: SKU, locationId: l.locationId, quantity: 30 }, metadata: meta() });
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      ids.push((await write.placeOrder({
        channel: 'web', externalId: randomUUID(), currency: 'EUR', customer: { id: `c-${i}` }, lines: [{ sku: SKU, quantity: 1 + (i % 2), unitPrice: 100 }],
        delivery: { method: 'ship', speed: 'standard', address: { line1: 'x', city: 'y', postalCode: '1', country: 'DE', geo: { lat: 50, lon: 12 } } },
        payment: { method: 'prepaid' }, placedBy: 'k',
      }, meta())).orderId);
    }
    await Promise.all(ids.map((id) => allocator.allocate(id, meta())));
    const orders = async () => Promise.all(ids.map(async (id) => (await write.loadOrder(id, { fresh: true })) as PlacedState));
    const allocated = (await orders()).filter((o) => o.allocation !== null).map((o) => o.order.orderId);
    expect(allocated.length).to.be.within(30, 60);

    // Most of the allocated orders are rejected, some cancelled, and sourcing releases what they held.
    const closed = allocated.filter((_, i) => i % 4 !== 0);
    await Promise.all(closed.map(async (id, i) => {
      if (i % 3 === 0) await write.cancelOrder(id, 'changed my mind', meta());
      else await write.recordFraudAssessment(id, { score: 95, decision: 'reject', reasons: [] }, meta());
      await allocator.releaseOrder(id, meta());
    }));
    const open = allocated.filter((_, i) => i % 4 === 0);
    for (const id of open) await write.recordFraudAssessment(id, { score: 0, decision: 'approve', reasons: [] }, meta());

    // One released order is sourced again elsewhere, one ships what it holds.
    const [moving, shipping] = (await orders()).filter((o) => open.includes(o.order.orderId) && o.allocation!.allocations.length === 1);
    const from = moving.allocation!.allocations[0];
    const to = locations.find((l) => l.locationId !== from.locationId)!.locationId;
    const units = from.lines[0].quantity;
    await write.onLedger({ type: 'ReleaseReservation', data: { sku: SKU, locationId: from.locationId, orderId: moving.order.orderId, reason: 'rejected by the store' }, metadata: meta() });
    await write.onLedger({ type: 'ReserveStock', data: { sku: SKU, locationId: to, orderId: moving.order.orderId, quantity: units }, metadata: meta() });
    await write.recordReallocation({
      orderId: moving.order.orderId, released: [from], allocations: [{ locationId: to, lines: from.lines }], transfers: [], allocationSeq: 1, cost: 1,
      why: `${to} is the next best`, candidates: [], cause: 'rejected', backordered: [], fulfilmentId: 'f-0', causeEventId: 'e-reject-f-0',
    }, meta());
    const shipped = shipping.allocation!.allocations[0];
    await write.onLedger({ type: 'ShipReservedStock', data: { sku: SKU, locationId: shipped.locationId, orderId: shipping.order.orderId, quantity: shipped.lines[0].quantity }, metadata: meta() });
    await write.recordOrderFulfilment({
      type: 'RecordFulfilmentShipped', data: { orderId: shipping.order.orderId, fulfilmentId: 'f-1', locationId: shipped.locationId, lines: shipped.lines }, metadata: meta(),
    });

    const log = (await store.readAll()).map((e) => toDomain(e));
    await project(rm.knex, stockLevelsProjection, log);
    await project(rm.knex, ordersProjection, log);

    const levels = await rm.knex('stock_levels').where({ sku: SKU }).select('location_id', 'reserved');
    const stockReserved: Record<string, number> = Object.fromEntries(levels.filter((l) => Number(l.reserved) !== 0).map((l) => [l.location_id, Number(l.reserved)]));
    const { reserved, listed } = await allocatedUnits(rm.knex);
    expect(reserved).to.deep.equal(stockReserved);
    expect(Object.values(reserved).reduce((n, u) => n + u, 0)).to.be.greaterThan(0);
    // Without the statuses the closed orders would still seem to hold their units.
    expect(listed).to.be.greaterThan(Object.values(stockReserved).reduce((n, u) => n + u, 0) + 20);
    const statuses = await rm.knex('orders').whereIn('order_id', [moving.order.orderId, shipping.order.orderId]).select('order_id', 'status', 'allocations');
    const byId = new Map(statuses.map((r) => [r.order_id, r]));
    expect(byId.get(moving.order.orderId).allocations.map((a: { locationId: string; status: string }) => [a.locationId, a.status]))
      .to.deep.equal([[from.locationId, 'released'], [to, 'reserved']]);
    expect(byId.get(shipping.order.orderId)).to.deep.include({ status: 'shipped' });
  });
});
