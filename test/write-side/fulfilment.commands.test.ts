import { expect } from 'chai';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import { createWriteSide } from '../../write-side/commands.js';
import { fulfilmentIdFor, fulfilmentStream } from '../../write-side/fulfilments/fulfilment.decider.js';
import type { ShipmentLabel } from '../../write-side/fulfilments/fulfilment.events.js';
import { shipmentStatus } from '../../write-side/fulfilments/fulfilment.state.js';
import { meta } from '../support/given-when-then.js';
import { MemoryEventStore } from '../support/memory-event-store.js';

const shipTo = { method: 'ship' as const, speed: 'standard' as const, address: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' } };
const lines = [{ sku: 'SKU-1', quantity: 2 }];

async function thrown(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('write side: fulfilments', () => {
  it('creates a fulfilment once under the id derived from its allocation, and takes it from pick to tracking', async () => {
    const store = new MemoryEventStore();
    const write = createWriteSide(store);
    const first = await write.createFulfilment({ orderId: 'o-1', locationId: 'wh-1', kind: 'ship', lines, delivery: shipTo, allocationSeq: 0 }, meta());
    expect(first.fulfilmentId).to.equal(fulfilmentIdFor('o-1', 0, 'wh-1'));
    expect(first.events.map((e) => e.type)).to.deep.equal(['FulfilmentCreated']);
    const again = await write.createFulfilment({ orderId: 'o-1', locationId: 'wh-1', kind: 'ship', lines, delivery: shipTo, allocationSeq: 0 }, meta());
    expect(again).to.deep.include({ fulfilmentId: first.fulfilmentId, events: [], position: first.position });

    const id = first.fulfilmentId;
    const label: ShipmentLabel = {
      shipmentId: id, carrierId: 'parcelnet', service: 'ground', trackingNumber: 'PN1', labelUrl: 'https://labels.example/PN1.pdf', cost: 700, currency: 'USD',
      estimatedDelivery: '2026-11-30', choice: { why: 'cheapest', quotes: [], unavailable: [] },
    };
    await write.recordPick(id, lines, meta());
    await write.packFulfilment(id, [{ weightGrams: 900, lengthCm: 20, widthCm: 15, heightCm: 10, lines }], meta());
    await write.recordLabel(id, label, meta());
    const shipped = await write.shipFulfilment(id, meta());
    expect(shipped.fulfilment.status).to.equal('shipped');
    const update = { carrierId: 'parcelnet', trackingNumber: 'PN1', status: 'in_transit' as const, at: '2026-11-27T08:00:00.000Z' };
    const tracked = await write.recordTracking(id, update, meta());
    expect(tracked.events).to.have.length(1);
    expect((await write.recordTracking(id, update, meta())).events).to.deep.equal([]);

    const loaded = await write.loadFulfilment(id);
    expect(loaded.status).to.equal('shipped');
    expect(shipmentStatus(loaded)).to.equal('in_transit');
    expect((await store.readStream(fulfilmentStream(id))).map((e) => e.type)).to.deep.equal([
      'FulfilmentCreated', 'FulfilmentPicked', 'FulfilmentPacked', 'FulfilmentLabelled', 'FulfilmentShipped', 'ShipmentTracked',
    ]);
  });

  it('holds a pickup at the counter and hands it over for the right code only', async () => {
    const write = createWriteSide(new MemoryEventStore());
    const { fulfilmentId } = await write.createFulfilment(
      { orderId: 'o-2', locationId: 'store-1', kind: 'pickup', lines, delivery: { method: 'pickup', locationId: 'store-1' }, allocationSeq: 1 }, meta());
    expect(fulfilmentId).to.not.equal(fulfilmentIdFor('o-2', 0, 'store-1'));
    await write.recordPick(fulfilmentId, lines, meta());
    await write.markReadyForPickup(fulfilmentId, { code: '123456', expiresAt: '2026-11-29T10:00:00.000Z' }, meta());
    expect(await thrown(write.collectFulfilment(fulfilmentId, '000000', meta()))).to.be.instanceOf(ConflictError).with.property('code', 'fulfilment.wrong_code');
    expect((await write.collectFulfilment(fulfilmentId, '123456', meta())).fulfilment.status).to.equal('collected');
  });

  it('answers 404 for a fulfilment that does not exist, and loads it as none', async () => {
    const write = createWriteSide(new MemoryEventStore());
    expect(await thrown(write.cancelFulfilment('nope', 'order cancelled', meta()))).to.be.instanceOf(NotFoundError).with.property('code', 'fulfilment.not_found');
    expect((await write.loadFulfilment('nope')).status).to.equal('none');
  });
});
