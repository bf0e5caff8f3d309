import { expect } from 'chai';
import { ConflictError } from '../../platform/errors.js';
import { afterReallocation, givenBack, sourcingRecord, type Reallocation } from '../../write-side/sourcing/reallocation.js';
import { NOW } from '../support/given-when-then.js';

const lines = (sku: string, quantity: number) => [{ sku, quantity }];
const allocated = {
  type: 'OrderAllocated', data: {
    orderId: 'o-1', allocations: [{ locationId: 'wh-1', lines: [{ sku: 'A', quantity: 3 }, { sku: 'B', quantity: 1 }] }, { locationId: 'wh-2', lines: lines('A', 1) }],
    transfers: [], cost: 500, why: 'split', candidates: [], at: NOW,
  },
};
const moved: Reallocation = {
  orderId: 'o-1', released: [{ locationId: 'wh-1', lines: lines('A', 2) }], allocations: [{ locationId: 'wh-2', lines: lines('A', 2) }],
  transfers: [], allocationSeq: 1, why: 'wh-2 fills the whole order at the lowest cost (300)', candidates: [], cost: 300, cause: 'short_pick',
  backordered: [], fulfilmentId: 'f-1', causeEventId: 'e-1',
};

describe('an order\'s sourcing record', () => {
  it('holds nothing and is not allocated before the order is', () => {
    expect(sourcingRecord([{ type: 'OrderPlaced', data: {} }])).to.deep.equal({ allocated: false, held: new Map(), reallocations: [] });
  });

  it('holds what the allocation reserved, per SKU and location', () => {
    expect([...sourcingRecord([allocated]).held]).to.deep.equal([['A@wh-1', 3], ['B@wh-1', 1], ['A@wh-2', 1]]);
  });

  it('moves re-allocated units from where they were released to where they are newly reserved, and lists the re-allocation', () => {
    const record = sourcingRecord([allocated, { type: 'OrderReallocated', data: { ...moved, at: NOW } }]);
    expect([...record.held]).to.deep.equal([['A@wh-1', 1], ['B@wh-1', 1], ['A@wh-2', 3]]);
    expect(record.reallocations).to.deep.equal([moved]);
  });

  it('no longer holds what has shipped', () => {
    const shipped = { type: 'OrderFulfilmentShipped', data: { orderId: 'o-1', fulfilmentId: 'f-1', locationId: 'wh-1', lines: [{ sku: 'A', quantity: 3 }, { sku: 'B', quantity: 1 }], at: NOW } };
    expect([...sourcingRecord([allocated, shipped]).held]).to.deep.equal([['A@wh-2', 1]]);
  });

  it('holds nothing for units given back and backordered, and the units once a backorder fills them', () => {
    const backordered: Reallocation = { ...moved, released: [{ locationId: 'wh-1', lines: lines('B', 1) }], allocations: [], backordered: lines('B', 1), cause: 'rejected' };
    const filled: Reallocation = {
      ...moved, released: [], allocations: [{ locationId: 'wh-3', lines: lines('B', 1) }], allocationSeq: 2, cause: 'backorder', backordered: [], fulfilmentId: undefined, causeEventId: undefined,
    };
    const at = (r: Reallocation) => ({ type: 'OrderReallocated', data: { ...r, at: NOW } });
    expect([...sourcingRecord([allocated, at(backordered)]).held]).to.deep.equal([['A@wh-1', 3], ['A@wh-2', 1]]);
    expect([...sourcingRecord([allocated, at(backordered), at(filled)]).held]).to.deep.equal([['A@wh-1', 3], ['A@wh-2', 1], ['B@wh-3', 1]]);
  });

  it('says where each SKU was given back and why, from give-backs only', () => {
    const rejected: Reallocation = { ...moved, released: [{ locationId: 'wh-2', lines: [...lines('A', 1), ...lines('B', 1)] }], allocationSeq: 2, cause: 'rejected' };
    const fill: Reallocation = { ...moved, released: [], allocationSeq: 3, cause: 'backorder' };
    expect(givenBack([moved, rejected, fill])).to.deep.equal([
      { sku: 'A', locationId: 'wh-1', cause: 'short_pick' }, { sku: 'A', locationId: 'wh-2', cause: 'rejected' }, { sku: 'B', locationId: 'wh-2', cause: 'rejected' },
    ]);
  });

  it('holds a transfer\'s units nowhere on their way, and at the pickup store once they arrived there for the open order', () => {
    const leg = { orderId: 'o-1', fulfilmentId: 't-1', from: 'wh-2', to: 'store-1', lines: lines('A', 1) };
    const sent = { type: 'OrderTransferShipped', data: { ...leg, at: NOW } };
    expect([...sourcingRecord([allocated, sent]).held]).to.deep.equal([['A@wh-1', 3], ['B@wh-1', 1]]);
    expect([...sourcingRecord([allocated, sent, { type: 'OrderTransferReceived', data: { ...leg, reserved: true, at: NOW } }]).held])
      .to.deep.equal([['A@wh-1', 3], ['B@wh-1', 1], ['A@store-1', 1]]);
    expect([...sourcingRecord([allocated, sent, { type: 'OrderTransferReceived', data: { ...leg, reserved: false, at: NOW } }]).held])
      .to.deep.equal([['A@wh-1', 3], ['B@wh-1', 1]]);
  });

  it('refuses a re-allocation releasing more than the order holds there', () => {
    const held = sourcingRecord([allocated]).held;
    expect(() => afterReallocation(held, { released: [{ locationId: 'wh-2', lines: lines('A', 2) }], allocations: [] }))
      .to.throw(ConflictError).with.property('code', 'sourcing.not_held');
    expect(() => afterReallocation(held, { released: [{ locationId: 'wh-3', lines: lines('A', 1) }], allocations: [] })).to.throw(ConflictError);
  });
});
