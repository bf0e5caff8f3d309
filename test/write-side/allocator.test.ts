import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { DEFAULT_SOURCING_COSTS } from '../../platform/config.js';
import type { LocationDetails } from '../../write-side/locations/location.decider.js';
import { orderStream } from '../../write-side/orders/order.decider.js';
import { createAllocator } from '../../write-side/sourcing/allocator.js';
import { meta } from '../support/given-when-then.js';
import { eventStoreWorld } from '../support/world.js';

const locations: LocationDetails[] = [
  { locationId: 'wh-1', name: 'WH 1', type: 'warehouse', geo: { lat: 52, lon: 13 }, canShip: true, canPickup: false, handlingCost: 100, active: true, cutoffHour: 16 },
  { locationId: 'wh-2', name: 'WH 2', type: 'warehouse', geo: { lat: 48, lon: 11 }, canShip: true, canPickup: false, handlingCost: 100, active: true, cutoffHour: 16 },
];

describe('allocator', function () {
  let world: Awaited<ReturnType<typeof eventStoreWorld>>;
  beforeEach(async () => { world = await eventStoreWorld(); });
  afterEach(async () => { await world.cleanup(); });

  function allocator() {
    return createAllocator({
      write: world.write,
      locations: async () => locations,
      stockedAt: async (skus) => skus.flatMap((sku) => locations.map((l) => ({ sku, locationId: l.locationId }))),
      fulfilmentsToday: async () => new Map(),
      costs: DEFAULT_SOURCING_COSTS,
    });
  }

  async function placeFor(quantity: number) {
    for (const l of locations) await world.write.onLedger({ type: 'ReceiveStock', data: { sku: 'A', locationId: l.locationId, quantity: 5 }, metadata: meta() });
    return (await world.write.placeOrder({
      channel: 'web', externalId: randomUUID(), currency: 'EUR', customer: { id: 'c' }, lines: [{ sku: 'A', quantity, unitPrice: 1 }], placedBy: 'k',
      delivery: { method: 'ship', speed: 'standard', address: { line1: 'x', city: 'y', postalCode: '1', country: 'DE', geo: { lat: 52, lon: 13 } } },
      payment: { method: 'prepaid' },
    }, meta())).orderId;
  }

  it('releases what an interrupted attempt reserved before allocating again', async () => {
    const orderId = await placeFor(2);
    // A crashed attempt had reserved at the far warehouse and never recorded its plan.
    await world.write.onLedger({ type: 'ReserveStock', data: { sku: 'A', locationId: 'wh-2', orderId, quantity: 2 }, metadata: meta() });
    expect(await allocator().allocate(orderId, meta(), { afterCrash: true })).to.equal('allocated');
    const order = await world.write.loadOrder(orderId, { fresh: true });
    expect(order.status !== 'none' && order.allocation?.allocations).to.deep.equal([{ locationId: 'wh-1', lines: [{ sku: 'A', quantity: 2 }] }]);
    expect((await world.write.loadLedger('A', 'wh-2')).reservations.toJS()).to.deep.equal({});
    expect((await world.write.loadLedger('A', 'wh-1')).reservations.toJS()).to.deep.equal({ [orderId]: 2 });
  });

  it('releases its reservations when the order is cancelled before the plan is recorded', async () => {
    const orderId = await placeFor(2);
    const a = allocator();
    const original = world.write.recordAllocation;
    world.write.recordAllocation = async (data, metadata) => {
      await world.write.cancelOrder(orderId, 'customer', meta());
      return original(data, metadata);
    };
    expect(await a.allocate(orderId, meta())).to.equal('cancelled');
    for (const l of locations) expect((await world.write.loadLedger('A', l.locationId)).reserved).to.equal(0);
  });

  it('re-plans on fresh stock when a reservation loses a race', async () => {
    const orderId = await placeFor(4);
    const a = allocator();
    await a.plan([{ sku: 'A', quantity: 1 }], { method: 'pickup', locationId: 'nowhere' });        // warm the ledger cache
    // Another process takes most of wh-1 behind this one's back.
    await world.write.onLedger({ type: 'ReserveStock', data: { sku: 'A', locationId: 'wh-1', orderId: 'other', quantity: 3 }, metadata: meta() });
    expect(await a.allocate(orderId, meta())).to.equal('allocated');
    const order = await world.write.loadOrder(orderId, { fresh: true });
    expect(order.status !== 'none' && order.allocation?.allocations.map((x) => x.locationId)).to.deep.equal(['wh-2']);
  });

  it('does not adopt a leftover reservation of another quantity, even without knowing of a crash', async () => {
    const orderId = await placeFor(2);
    await world.write.onLedger({ type: 'ReserveStock', data: { sku: 'A', locationId: 'wh-1', orderId, quantity: 1 }, metadata: meta() });
    expect(await allocator().allocate(orderId, meta())).to.equal('allocated');
    const order = await world.write.loadOrder(orderId, { fresh: true });
    const recorded = order.status !== 'none' ? order.allocation?.allocations ?? [] : [];
    let held = 0;
    for (const l of locations) held += (await world.write.loadLedger('A', l.locationId)).reservations.get(orderId, 0);
    expect(held).to.equal(recorded.flatMap((a) => a.lines).reduce((n, l) => n + l.quantity, 0));
    expect(held).to.equal(2);
  });

  it('skips a location at its daily capacity, counted for the day of the allocation, and records why', async () => {
    const orderId = await placeFor(2);
    const asked: string[] = [];
    const capped = locations.map((l) => (l.locationId === 'wh-1' ? { ...l, dailyCapacity: 40 } : l));
    const a = createAllocator({
      write: world.write,
      locations: async () => capped,
      stockedAt: async (skus) => skus.flatMap((sku) => locations.map((l) => ({ sku, locationId: l.locationId }))),
      fulfilmentsToday: async (now) => { asked.push(now); return new Map([['wh-1', 40], ['wh-2', 3]]); },
      costs: DEFAULT_SOURCING_COSTS,
    });
    expect(await a.allocate(orderId, meta('2026-11-26T15:00:00.000Z'))).to.equal('allocated');
    const order = await world.write.loadOrder(orderId, { fresh: true });
    if (order.status === 'none' || !order.allocation) throw new Error('not allocated');
    expect(order.allocation.allocations).to.deep.equal([{ locationId: 'wh-2', lines: [{ sku: 'A', quantity: 2 }] }]);
    const events = await world.store.readStream(orderStream(orderId));
    const allocated = events.find((e) => e.type === 'OrderAllocated')!.data as { candidates: { locationId: string; reason: string }[] };
    expect(allocated.candidates.find((c) => c.locationId === 'wh-1')).to.include({ reason: 'at daily capacity: 40 of 40 fulfilments today' });
    expect(asked).to.include('2026-11-26T15:00:00.000Z');
  });

  it('does not ask for the day\'s fulfilments when no location has a daily capacity', async () => {
    const orderId = await placeFor(1);
    const a = createAllocator({
      write: world.write,
      locations: async () => locations,
      stockedAt: async (skus) => skus.flatMap((sku) => locations.map((l) => ({ sku, locationId: l.locationId }))),
      fulfilmentsToday: async () => { throw new Error('asked'); },
      costs: DEFAULT_SOURCING_COSTS,
    });
    expect(await a.allocate(orderId, meta())).to.equal('allocated');
  });

  it('releases whatever a cancelled order holds, wherever an attempt left it', async () => {
    const orderId = await placeFor(2);
    await world.write.onLedger({ type: 'ReserveStock', data: { sku: 'A', locationId: 'wh-2', orderId, quantity: 1 }, metadata: meta() });
    await world.write.cancelOrder(orderId, 'customer', meta());
    await allocator().releaseOrder(orderId, meta());
    for (const l of locations) expect((await world.write.loadLedger('A', l.locationId)).reserved).to.equal(0);
  });
});
