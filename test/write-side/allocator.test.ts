import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { DEFAULT_SOURCING_COSTS } from '../../platform/config.js';
import { ConflictError } from '../../platform/errors.js';
import { stockStream } from '../../write-side/inventory/stock.decider.js';
import type { LocationDetails } from '../../write-side/locations/location.decider.js';
import { orderStream } from '../../write-side/orders/order.decider.js';
import type { Delivery } from '../../write-side/orders/order.events.js';
import { createAllocator, type ReallocationOutcome } from '../../write-side/sourcing/allocator.js';
import type { Reallocation, ReallocationRequest } from '../../write-side/sourcing/reallocation.js';
import type { WriteSide } from '../../write-side/commands.js';
import { waitingForStock } from '../../write-side/orders/order-progress.js';
import type { PlacedState } from '../../write-side/orders/order.state.js';
import { meta } from '../support/given-when-then.js';
import { eventStoreWorld } from '../support/world.js';

const locations: LocationDetails[] = [
  { locationId: 'wh-1', name: 'WH 1', type: 'warehouse', geo: { lat: 52, lon: 13 }, canShip: true, canPickup: false, handlingCost: 100, active: true, cutoffHour: 16 },
  { locationId: 'wh-2', name: 'WH 2', type: 'warehouse', geo: { lat: 48, lon: 11 }, canShip: true, canPickup: false, handlingCost: 100, active: true, cutoffHour: 16 },
];

/** An allocator over these locations, every SKU stocked at each, none of them full. */
function allocatorOn(write: WriteSide, at: LocationDetails[]) {
  return createAllocator({
    write,
    locations: async () => at,
    stockedAt: async (skus) => skus.flatMap((sku) => at.map((l) => ({ sku, locationId: l.locationId }))),
    fulfilmentsToday: async () => new Map(),
    costs: DEFAULT_SOURCING_COSTS,
  });
}

describe('allocator', function () {
  let world: Awaited<ReturnType<typeof eventStoreWorld>>;
  beforeEach(async () => { world = await eventStoreWorld(); });
  afterEach(async () => { await world.cleanup(); });

  const allocator = () => allocatorOn(world.write, locations);

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

describe('allocator re-sourcing part of an order', function () {
  const site = (locationId: string, geo: { lat: number; lon: number }, over: Partial<LocationDetails> = {}): LocationDetails => ({
    locationId, name: locationId, type: 'warehouse', geo, canShip: true, canPickup: false, handlingCost: 100, active: true, cutoffHour: 16, ...over,
  });
  const WH1 = site('wh-1', { lat: 52, lon: 13 });
  const WH2 = site('wh-2', { lat: 48, lon: 11 });
  const WH3 = site('wh-3', { lat: 51.5, lon: 12.5 });
  const STORE = site('store-1', { lat: 52.52, lon: 13.4 }, { type: 'store', canPickup: true });
  const BERLIN = { line1: 'x', city: 'Berlin', postalCode: '1', country: 'DE', geo: { lat: 52.5, lon: 13.4 } };

  let world: Awaited<ReturnType<typeof eventStoreWorld>>;
  let recordings: Reallocation[];
  beforeEach(async () => {
    world = await eventStoreWorld();
    recordings = [];
    // The order's own RecordReallocation, watched: every re-allocation the allocator asks the order to record.
    const record = world.write.recordReallocation;
    world.write.recordReallocation = (data, metadata) => { recordings.push(data); return record(data, metadata); };
  });
  afterEach(async () => { await world.cleanup(); });

  const allocator = (at: LocationDetails[]) => allocatorOn(world.write, at);

  const receive = (locationId: string, quantity: number, sku = 'A') => world.write.onLedger({ type: 'ReceiveStock', data: { sku, locationId, quantity }, metadata: meta() });
  const held = async (locationId: string, orderId: string, sku = 'A') => (await world.write.loadLedger(sku, locationId)).reservations.get(orderId, 0);
  const reservedEvents = async (locationId: string, sku = 'A') => (await world.store.readStream(stockStream(sku, locationId))).filter((e) => e.type === 'StockReserved').length;
  const orderOf = async (orderId: string) => (await world.write.loadOrder(orderId, { fresh: true })) as PlacedState;

  async function allocated(quantity: number, locations: LocationDetails[], delivery: Delivery = { method: 'ship', speed: 'standard', address: BERLIN }) {
    const { orderId } = await world.write.placeOrder({
      channel: 'web', externalId: randomUUID(), currency: 'EUR', customer: { id: 'c' }, lines: [{ sku: 'A', quantity, unitPrice: 1 }], placedBy: 'k', delivery, payment: { method: 'prepaid' },
    }, meta());
    expect(await allocator(locations).allocate(orderId, meta())).to.equal('allocated');
    return orderId;
  }

  /** The fulfilment at `locationId` gave back `quantity` units, rejected in event `e-<locationId>` unless another is named. */
  const rejected = (locationId: string, quantity: number, causeEventId = `e-${locationId}`): ReallocationRequest => ({
    cause: 'rejected', lines: [{ sku: 'A', quantity }], release: [{ locationId, lines: [{ sku: 'A', quantity }] }], fulfilmentId: `f-${locationId}`, causeEventId,
  });

  function reallocated(outcome: ReallocationOutcome): Reallocation {
    if (outcome.outcome !== 'reallocated') throw new Error(`expected a re-allocation, got ${JSON.stringify(outcome)}`);
    return outcome.reallocation;
  }

  describe('a store that rejected its fulfilment', () => {
    it('moves the part to the next best location, never the rejecting one, releases what that one held, and names the fulfilment and event', async () => {
      const locations = [WH1, WH2];
      await receive('wh-1', 5);
      await receive('wh-2', 5);
      const orderId = await allocated(2, locations);
      expect(await held('wh-1', orderId)).to.equal(2);

      const r = reallocated(await allocator(locations).reallocate(orderId, rejected('wh-1', 2), meta()));
      expect(r).to.deep.include({
        orderId, allocationSeq: 1, cause: 'rejected', released: [{ locationId: 'wh-1', lines: [{ sku: 'A', quantity: 2 }] }], backordered: [], fulfilmentId: 'f-wh-1', causeEventId: 'e-wh-1',
      });
      expect(r.allocations).to.deep.equal([{ locationId: 'wh-2', lines: [{ sku: 'A', quantity: 2 }] }]);
      expect(r.transfers).to.deep.equal([]);
      expect(r.candidates.find((c) => c.locationId === 'wh-1')).to.include({ eligible: false, reason: 'excluded from re-sourcing after a rejected fulfilment' });
      expect(await held('wh-1', orderId)).to.equal(0);
      expect(await held('wh-2', orderId)).to.equal(2);
      const record = await world.write.loadSourcingRecord(orderId);
      expect([...record.held]).to.deep.equal([['A@wh-2', 2]]);
      expect(record.reallocations).to.have.length(1);
      expect((await orderOf(orderId)).progress.allocations.map((a) => `${a.locationId}:${a.status}:${a.allocationSeq}`)).to.deep.equal(['wh-1:released:0', 'wh-2:reserved:1']);
    });

    it('records nothing and reserves nothing again when re-run for the same event', async () => {
      const locations = [WH1, WH2];
      await receive('wh-1', 5);
      await receive('wh-2', 5);
      const orderId = await allocated(2, locations);
      const first = reallocated(await allocator(locations).reallocate(orderId, rejected('wh-1', 2), meta()));
      await receive('wh-3', 5);                                      // a cheaper place now, which a second plan would pick
      const again = reallocated(await allocator([...locations, WH3]).reallocate(orderId, rejected('wh-1', 2), meta()));
      expect(again).to.deep.equal(first);
      expect(recordings).to.have.length(1);
      expect(await reservedEvents('wh-2')).to.equal(1);
      expect(await held('wh-2', orderId)).to.equal(2);
      expect(await held('wh-3', orderId)).to.equal(0);
      expect((await world.write.loadSourcingRecord(orderId)).reallocations).to.have.length(1);
    });

    it('as the pickup store, has the part transferred in from a warehouse', async () => {
      const locations = [STORE, WH1];
      const { locationId, name, type, geo, canShip, canPickup } = STORE;
      await world.write.registerLocation({ locationId, name, type, geo, canShip, canPickup }, meta());
      await receive('store-1', 2);
      await receive('wh-1', 5);
      const orderId = await allocated(2, locations, { method: 'pickup', locationId: 'store-1' });
      expect(await held('store-1', orderId)).to.equal(2);
      const r = reallocated(await allocator(locations).reallocate(orderId, rejected('store-1', 2), meta()));
      expect(r.allocations).to.deep.equal([{ locationId: 'wh-1', lines: [{ sku: 'A', quantity: 2 }] }]);
      expect(r.transfers).to.deep.equal([{ from: 'wh-1', to: 'store-1', lines: [{ sku: 'A', quantity: 2 }] }]);
      expect(await held('store-1', orderId)).to.equal(0);
      expect(await held('wh-1', orderId)).to.equal(2);
    });
  });

  describe('lines given back by one location after another', () => {
    it('never go back to a location that gave them back before, even the cheapest: a second reject sends them to a third', async () => {
      const locations = [WH1, WH2, WH3];
      for (const l of locations) await receive(l.locationId, 5);
      const orderId = await allocated(2, locations);                // wh-1, nearest Berlin
      const a = allocator(locations);
      const first = reallocated(await a.reallocate(orderId, rejected('wh-1', 2), meta()));
      expect(first.allocations.map((x) => x.locationId)).to.deep.equal(['wh-3']);
      const second = reallocated(await a.reallocate(orderId, rejected('wh-3', 2), meta()));
      expect(second).to.deep.include({ allocationSeq: 2 });
      expect(second.allocations.map((x) => x.locationId)).to.deep.equal(['wh-2']);
      expect(second.candidates.filter((c) => !c.eligible).map((c) => [c.locationId, c.reason]).sort()).to.deep.equal([
        ['wh-1', 'excluded from re-sourcing after a rejected fulfilment'], ['wh-3', 'excluded from re-sourcing after a rejected fulfilment'],
      ]);
      expect([await held('wh-1', orderId), await held('wh-2', orderId), await held('wh-3', orderId)]).to.deep.equal([0, 2, 0]);
    });

    it('are backordered when every location left has given them back, not sent back to the first', async () => {
      const locations = [WH1, WH2];
      for (const l of locations) await receive(l.locationId, 5);
      const orderId = await allocated(2, locations);
      const a = allocator(locations);
      reallocated(await a.reallocate(orderId, rejected('wh-1', 2), meta()));
      const second = reallocated(await a.reallocate(orderId, rejected('wh-2', 2), meta()));
      expect(second).to.deep.include({ allocations: [], backordered: [{ sku: 'A', quantity: 2 }] });
      expect([await held('wh-1', orderId), await held('wh-2', orderId)]).to.deep.equal([0, 0]);
      expect(waitingForStock((await orderOf(orderId)).progress)).to.deep.equal([{ sku: 'A', quantity: 2 }]);
    });

    it('takes the next number when another re-allocation of the order is recorded first under the one it meant to use', async () => {
      const locations = [WH1, WH2, WH3];
      await receive('wh-1', 2);
      await receive('wh-2', 1);
      const orderId = await allocated(3, [WH1, WH2]);                // 2 at wh-1, 1 at wh-2
      await receive('wh-3', 5);
      const record = world.write.recordReallocation;
      let raced = false;
      world.write.recordReallocation = async (data, metadata) => {
        if (!raced) {
          raced = true;                                              // wh-2 rejects its unit meanwhile, and it is backordered first
          await record({
            orderId, released: [{ locationId: 'wh-2', lines: [{ sku: 'A', quantity: 1 }] }], allocations: [], transfers: [], allocationSeq: 1, cost: 0, why: 'backordered',
            candidates: [], cause: 'rejected', backordered: [{ sku: 'A', quantity: 1 }], fulfilmentId: 'f-wh-2', causeEventId: 'e-wh-2',
          }, meta());
        }
        return record(data, metadata);
      };
      const r = reallocated(await allocator(locations).reallocate(orderId, rejected('wh-1', 2), meta()));
      expect(r).to.deep.include({ allocationSeq: 2, allocations: [{ locationId: 'wh-3', lines: [{ sku: 'A', quantity: 2 }] }] });
      expect((await world.write.loadSourcingRecord(orderId)).reallocations.map((x) => [x.allocationSeq, x.causeEventId])).to.deep.equal([[1, 'e-wh-2'], [2, 'e-wh-1']]);
      expect([await held('wh-1', orderId), await held('wh-3', orderId)]).to.deep.equal([0, 2]);
      expect(await world.write.loadLedger('A', 'wh-3')).to.include({ reserved: 2 });   // what it reserved under the lost number given back first
    });
  });

  describe('a short pick', () => {
    it('re-sources the missing units to where the order already holds some, topping its reservation up, once', async () => {
      const locations = [WH1, WH2];
      await receive('wh-1', 2);
      await receive('wh-2', 1);
      const orderId = await allocated(3, locations);                // split: 2 at wh-1, 1 at wh-2
      expect([await held('wh-1', orderId), await held('wh-2', orderId)]).to.deep.equal([2, 1]);
      await receive('wh-2', 4);
      // wh-1 found one of its two missing: the caller writes it off with the order's reservation of it.
      await world.write.onLedger({ type: 'WriteOffShortPick', data: { sku: 'A', locationId: 'wh-1', orderId, fulfilmentId: 'f-1', quantity: 1 }, metadata: meta() });
      const request: ReallocationRequest = {
        cause: 'short_pick', lines: [{ sku: 'A', quantity: 1 }], release: [{ locationId: 'wh-1', lines: [{ sku: 'A', quantity: 1 }] }], fulfilmentId: 'f-1', causeEventId: 'e-pick-1',
      };
      const r = reallocated(await allocator(locations).reallocate(orderId, request, meta()));
      expect(r.allocations).to.deep.equal([{ locationId: 'wh-2', lines: [{ sku: 'A', quantity: 1 }] }]);
      const check = async () => {
        expect(await held('wh-1', orderId), 'the picked unit stays reserved at wh-1').to.equal(1);
        expect(await held('wh-2', orderId)).to.equal(2);
        expect(await world.write.loadLedger('A', 'wh-1')).to.include({ onHand: 1, reserved: 1 });
        expect(await world.write.loadLedger('A', 'wh-2')).to.include({ onHand: 5, reserved: 2 });
      };
      await check();
      expect([...(await world.write.loadSourcingRecord(orderId)).held].sort()).to.deep.equal([['A@wh-1', 1], ['A@wh-2', 2]]);
      reallocated(await allocator(locations).reallocate(orderId, request, meta()));
      await check();
      expect(await reservedEvents('wh-2')).to.equal(2);             // the first allocation's, and the top-up
    });
  });

  describe('a run interrupted between reserving and recording', () => {
    it('is run again after the crash: what it reserved is released, the part reserved and recorded once', async () => {
      const locations = [WH1, WH2, WH3];
      await receive('wh-1', 5);
      await receive('wh-2', 5);
      const orderId = await allocated(2, locations);
      const record = world.write.recordReallocation;
      world.write.recordReallocation = async () => { throw new Error('connection lost'); };
      await allocator(locations).reallocate(orderId, rejected('wh-1', 2), meta()).then(() => expect.fail('should throw'), (err: Error) => expect(err.message).to.equal('connection lost'));
      expect(await held('wh-2', orderId)).to.equal(2);               // reserved, not recorded
      world.write.recordReallocation = record;
      await receive('wh-3', 5);                                      // the run again prefers another location
      const r = reallocated(await allocator(locations).reallocate(orderId, rejected('wh-1', 2), meta(), { afterCrash: true }));
      expect(r.allocations).to.deep.equal([{ locationId: 'wh-3', lines: [{ sku: 'A', quantity: 2 }] }]);
      expect([await held('wh-1', orderId), await held('wh-2', orderId), await held('wh-3', orderId)]).to.deep.equal([0, 0, 2]);
      expect((await world.write.loadSourcingRecord(orderId)).reallocations.map((x) => x.allocationSeq)).to.deep.equal([1]);
    });
  });

  describe('an order closed while its part is re-sourced', () => {
    it('gives back what the run reserved, down to what the order held there before', async () => {
      const locations = [WH1, WH2];
      await receive('wh-1', 2);
      await receive('wh-2', 1);
      const orderId = await allocated(3, locations);                // 2 at wh-1, 1 at wh-2
      await receive('wh-2', 4);
      const record = world.write.recordReallocation;
      world.write.recordReallocation = async (data, metadata) => {
        await world.write.cancelOrder(orderId, 'customer', meta());   // the order refuses the re-allocation as it is now cancelled
        return record(data, metadata);
      };
      expect(await allocator(locations).reallocate(orderId, rejected('wh-1', 2), meta())).to.deep.equal({ outcome: 'cancelled' });
      expect([await held('wh-1', orderId), await held('wh-2', orderId)]).to.deep.equal([2, 1]);
      expect(await reservedEvents('wh-2')).to.equal(2);             // it did reserve the two more there first
      expect((await world.write.loadSourcingRecord(orderId)).reallocations).to.deep.equal([]);
    });
  });

  describe('lines no other location can fill', () => {
    it('are backordered on the order: released where they were given back, reserved nowhere else', async () => {
      const locations = [WH1, WH2];
      await receive('wh-1', 2);
      const orderId = await allocated(2, locations);
      const r = reallocated(await allocator(locations).reallocate(orderId, rejected('wh-1', 2), meta()));
      expect(r).to.deep.include({ allocations: [], backordered: [{ sku: 'A', quantity: 2 }], cost: 0 });
      expect(r.why).to.match(/^backordered: not enough stock in the network/);
      expect([await held('wh-1', orderId), await held('wh-2', orderId)]).to.deep.equal([0, 0]);
      expect(await world.write.loadLedger('A', 'wh-1')).to.include({ onHand: 2, reserved: 0 });
      const order = await orderOf(orderId);
      expect(order.progress.allocations.map((a) => `${a.locationId}:${a.status}`)).to.deep.equal(['wh-1:released']);
      expect(order.progress.backordered).to.deep.equal([{ lines: [{ sku: 'A', quantity: 2 }], allocationSeq: 1, from: ['wh-1'], filledBy: null }]);
    });

    it('go where some can be placed, the rest backordered in the same re-allocation', async () => {
      const locations = [WH1, WH2];
      await receive('wh-1', 3);
      await receive('wh-2', 1);
      const orderId = await allocated(3, locations);                // all 3 at wh-1
      const r = reallocated(await allocator(locations).reallocate(orderId, rejected('wh-1', 3), meta()));
      expect(r).to.deep.include({ allocations: [{ locationId: 'wh-2', lines: [{ sku: 'A', quantity: 1 }] }], backordered: [{ sku: 'A', quantity: 2 }] });
      expect(r.why).to.match(/; the rest is backordered: not enough stock in the network/);
      expect([await held('wh-1', orderId), await held('wh-2', orderId)]).to.deep.equal([0, 1]);
    });

    it('are filled as a re-allocation once stock arrives at a location that did not give them back, not at one that did', async () => {
      const locations = [WH1, WH2];
      await receive('wh-1', 2);
      const orderId = await allocated(2, locations);
      reallocated(await allocator(locations).reallocate(orderId, rejected('wh-1', 2), meta()));
      await receive('wh-1', 5);
      expect(await allocator(locations).allocate(orderId, meta(), { fromBackorder: true })).to.equal('backordered');
      expect(await held('wh-1', orderId)).to.equal(0);
      await receive('wh-2', 2);
      expect(await allocator(locations).allocate(orderId, meta())).to.equal('skipped');   // only the backorder job fills it
      expect(await allocator(locations).allocate(orderId, meta(), { fromBackorder: true })).to.equal('allocated');
      const order = await orderOf(orderId);
      expect(order.reallocations.map((x) => [x.allocationSeq, x.cause, x.allocations.map((a) => a.locationId)])).to.deep.equal([[1, 'rejected', []], [2, 'backorder', ['wh-2']]]);
      expect(waitingForStock(order.progress)).to.deep.equal([]);
      expect(await held('wh-2', orderId)).to.equal(2);
      expect(await allocator(locations).allocate(orderId, meta(), { fromBackorder: true })).to.equal('skipped');
      expect(await held('wh-2', orderId)).to.equal(2);
    });
  });

  describe('a request that does not fit the order', () => {
    it('is refused when it releases what the order does not hold there, and skipped for a cancelled order', async () => {
      const locations = [WH1, WH2];
      await receive('wh-1', 5);
      await receive('wh-2', 5);
      const orderId = await allocated(2, locations);
      const a = allocator(locations);
      await a.reallocate(orderId, rejected('wh-2', 1), meta()).then(() => expect.fail('should refuse'),
        (err: ConflictError) => expect(err).to.be.instanceOf(ConflictError).and.to.include({ code: 'sourcing.not_held' }));
      await world.write.cancelOrder(orderId, 'customer', meta());
      expect(await a.reallocate(orderId, rejected('wh-1', 2), meta())).to.deep.equal({ outcome: 'skipped' });
      expect(recordings).to.deep.equal([]);
      expect(await held('wh-2', orderId)).to.equal(0);
    });
  });
});
