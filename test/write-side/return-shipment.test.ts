import { expect } from 'chai';
import { receivingLocation, returnParcels } from '../../write-side/returns/return-shipment.js';

const HAMBURG = { lat: 53.55, lon: 10.0 };
const at = (locationId: string, type: 'warehouse' | 'store' | 'hub', geo: { lat: number; lon: number }, over: { active?: boolean; canShip?: boolean } = {}) =>
  ({ locationId, type, geo, active: true, canShip: true, ...over });

describe('where a return is sent back to', () => {
  const storeNextDoor = at('store-hh', 'store', { lat: 53.55, lon: 9.99 });
  const whHamburg = at('wh-hh', 'warehouse', { lat: 53.6, lon: 10.0 });
  const whMunich = at('wh-muc', 'warehouse', { lat: 48.1, lon: 11.6 });

  it('is the nearest warehouse, even with a store nearer', () => {
    expect(receivingLocation([whMunich, storeNextDoor, whHamburg], HAMBURG)?.locationId).to.equal('wh-hh');
  });

  it('passes over locations that are inactive or do not ship', () => {
    expect(receivingLocation([whMunich, at('wh-hh', 'warehouse', whHamburg.geo, { active: false }), storeNextDoor], HAMBURG)?.locationId).to.equal('wh-muc');
    expect(receivingLocation([at('wh-muc', 'warehouse', whMunich.geo, { canShip: false }), storeNextDoor], HAMBURG)?.locationId).to.equal('store-hh');
  });

  it('is the nearest other location when no warehouse can take it, and none when nothing can', () => {
    const hubFar = at('hub-muc', 'hub', whMunich.geo);
    expect(receivingLocation([hubFar, storeNextDoor], HAMBURG)?.locationId).to.equal('store-hh');
    expect(receivingLocation([at('s', 'store', HAMBURG, { canShip: false })], HAMBURG)).to.equal(undefined);
  });

  it('breaks a tie in distance by id', () => {
    expect(receivingLocation([at('wh-b', 'warehouse', whHamburg.geo), at('wh-a', 'warehouse', whHamburg.geo)], HAMBURG)?.locationId).to.equal('wh-a');
  });
});

describe('the boxes a return travels back in', () => {
  const box = (weightGrams: number, lines: { sku: string; quantity: number }[]) => ({ weightGrams, lengthCm: 30, widthCm: 20, heightCm: 10, lines });

  it('are the boxes the units came in, each with its share of the weight', () => {
    const shipped = [box(2000, [{ sku: 'A', quantity: 3 }, { sku: 'B', quantity: 1 }]), box(500, [{ sku: 'C', quantity: 1 }]), box(900, [{ sku: 'A', quantity: 2 }])];
    expect(returnParcels([{ sku: 'A', quantity: 4 }, { sku: 'B', quantity: 1 }], shipped)).to.deep.equal({
      packages: [box(2000, [{ sku: 'A', quantity: 3 }, { sku: 'B', quantity: 1 }]), box(450, [{ sku: 'A', quantity: 1 }])],
      missing: [],
    });
  });

  it('answer the units found in no box', () => {
    expect(returnParcels([{ sku: 'A', quantity: 2 }, { sku: 'Z', quantity: 1 }], [box(1000, [{ sku: 'A', quantity: 1 }])])).to.deep.equal({
      packages: [box(1000, [{ sku: 'A', quantity: 1 }])],
      missing: [{ sku: 'A', quantity: 1 }, { sku: 'Z', quantity: 1 }],
    });
  });
});
