import { expect } from 'chai';
import { DEFAULT_SOURCING_COSTS } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import type { LocationDetails } from '../../write-side/locations/location.decider.js';
import { createAllocator, type Allocator } from '../../write-side/sourcing/allocator.js';
import { SourcingProcess } from '../../write-side/sourcing/sourcing.process.js';
import { meta } from '../support/given-when-then.js';
import { eventStoreWorld, readModelWorld } from '../support/world.js';

const log = createLogger('silent');
const locations: LocationDetails[] = ['wh-1', 'wh-2', 'wh-3'].map((id, i) => ({
  locationId: id, name: id, type: 'warehouse', geo: { lat: 50 + i, lon: 10 }, canShip: true, canPickup: false, handlingCost: 100, active: true, cutoffHour: 16,
}));

describe('sourcing process', function () {
  this.timeout(60_000);
  let world: Awaited<ReturnType<typeof eventStoreWorld>>;
  let rm: Awaited<ReturnType<typeof readModelWorld>>;
  let orderIds: string[];

  beforeEach(async () => {
    world = await eventStoreWorld();
    rm = await readModelWorld();
    for (const l of locations) await world.write.onLedger({ type: 'ReceiveStock', data: { sku: 'A', locationId: l.locationId, quantity: 40 }, metadata: meta() });
    orderIds = [];
    for (let i = 0; i < 150; i++) await placeOne(`c-${i}`);
  });
  afterEach(async () => { await rm.cleanup(); await world.cleanup(); });

  /** One unit of A, shipped, for a customer of its own. */
  async function placeOne(customerId: string): Promise<void> {
    orderIds.push((await world.write.placeOrder({
      channel: 'web', externalId: customerId, currency: 'EUR', customer: { id: customerId }, lines: [{ sku: 'A', quantity: 1, unitPrice: 1 }], placedBy: 'k',
      delivery: { method: 'ship', speed: 'standard', address: { line1: 'x', city: 'y', postalCode: '1', country: 'DE', geo: { lat: 50, lon: 10 } } },
      payment: { method: 'prepaid' },
    }, meta())).orderId);
  }

  const allocator = () => createAllocator({
    write: world.write,
    locations: async () => locations,
    stockedAt: async (skus) => skus.flatMap((sku) => locations.map((l) => ({ sku, locationId: l.locationId }))),
    fulfilmentsToday: async () => new Map(),
    costs: DEFAULT_SOURCING_COSTS,
  });

  async function sourced(): Promise<{ allocated: number; backordered: number }> {
    let allocated = 0;
    let backordered = 0;
    for (const id of orderIds) {
      const o = await world.write.loadOrder(id, { fresh: true });
      if (o.status !== 'none' && o.allocation) allocated++;
      else if (o.status === 'backordered') backordered++;
    }
    return { allocated, backordered };
  }

  async function settled(): Promise<{ allocated: number; backordered: number }> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { allocated, backordered } = await sourced();
      if (allocated + backordered === orderIds.length) return { allocated, backordered };
      if (Date.now() > deadline) throw new Error(`only ${allocated + backordered} of ${orderIds.length} sourced`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function reservedInLedgers(): Promise<number> {
    let n = 0;
    for (const l of locations) n += (await world.write.loadLedger('A', l.locationId)).reserved;
    return n;
  }

  it('allocates 120 and backorders 30 when stopped and restarted mid-stream', async () => {
    // Allocations slowed, four at a time, so the first process is stopped with most orders still to do.
    const fast = allocator();
    let finished = 0;
    const slow: Allocator = {
      ...fast,
      async allocate(...args) {
        await new Promise((r) => setTimeout(r, 10));
        const outcome = await fast.allocate(...args);
        finished++;
        return outcome;
      },
    };
    const first = new SourcingProcess(world.store, rm.knex, slow, log, { batchSize: 7, concurrency: 4 });
    await first.start();
    for (const deadline = Date.now() + 20_000; finished < 10;) {
      if (Date.now() > deadline) throw new Error(`only ${finished} orders sourced`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await first.stop();
    const before = await sourced();
    expect(before.allocated + before.backordered, 'orders sourced by the first process').to.be.within(1, orderIds.length - 1);
    const second = new SourcingProcess(world.store, rm.knex, allocator(), log, { batchSize: 7 });
    await second.start();
    expect(await settled()).to.deep.equal({ allocated: 120, backordered: 30 });
    await second.stop();
    expect(await reservedInLedgers()).to.equal(120);
  });

  it('allocates each order once with two processes side by side', async () => {
    const a = new SourcingProcess(world.store, rm.knex, allocator(), log, { batchSize: 11 });
    const b = new SourcingProcess(world.store, rm.knex, allocator(), log, { batchSize: 11 });
    await Promise.all([a.start(), b.start()]);
    expect(await settled()).to.deep.equal({ allocated: 120, backordered: 30 });
    await Promise.all([a.stop(), b.stop()]);
    expect(await reservedInLedgers()).to.equal(120);
  });

  it('hands the turn to a standby when the session holding it dies, and sources every order once', async () => {
    const a = new SourcingProcess(world.store, rm.knex, allocator(), log, { batchSize: 5, leaseMs: 1500 });
    await a.start();
    const holder = async (): Promise<number | undefined> => (await rm.knex.raw(`
      SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
         AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(current_schema() || '/sourcing/sourcing', 0)`)).rows[0]?.pid;
    let first: number | undefined;
    for (const deadline = Date.now() + 5000; !first && Date.now() < deadline;) first = await holder();
    expect(first, 'the first process holds the turn').to.be.a('number');
    const b = new SourcingProcess(world.store, rm.knex, allocator(), log, { batchSize: 5, leaseMs: 1500 });
    await b.start();
    await rm.knex.raw('SELECT pg_terminate_backend(?)', [first!]);
    let next: number | undefined;
    for (const deadline = Date.now() + 10_000; (!next || next === first) && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) next = await holder();
    expect(next, 'a new session holds the turn').to.be.a('number').and.not.equal(first);
    // Orders placed after the turn changed hands are sourced by whichever process holds it now.
    for (let i = 0; i < 10; i++) await placeOne(`late-${i}`);
    expect(await settled()).to.deep.equal({ allocated: 120, backordered: 40 });
    await Promise.all([a.stop(), b.stop()]);
    expect(await reservedInLedgers()).to.equal(120);
  });

  it('releases what a cancelled order holds', async () => {
    const p = new SourcingProcess(world.store, rm.knex, allocator(), log);
    await p.start();
    await settled();
    const allocatedId = orderIds[0];
    await world.write.cancelOrder(allocatedId, 'customer', meta());
    const deadline = Date.now() + 10_000;
    while ((await reservedInLedgers()) !== 119 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await p.stop();
    expect(await reservedInLedgers()).to.equal(119);
  });
});
