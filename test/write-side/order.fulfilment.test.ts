import { expect } from 'chai';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import { fold } from '../../write-side/decider.js';
import { orderDecider, type OrderCommand } from '../../write-side/orders/order.decider.js';
import type { OrderEvent, PlacedOrder, Reallocation } from '../../write-side/orders/order.events.js';
import { statusOf, type PlacedState, type StatusFacts } from '../../write-side/orders/order.state.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';
import { anOrder } from './order.decider.test.js';

const given = specFor(orderDecider);
const orderId = 'o-1';
const state = (events: OrderEvent[]) => fold(orderDecider, events) as PlacedState;
const command = <T extends OrderCommand['type']>(type: T, data: Extract<OrderCommand, { type: T }>['data']) => ({ type, data, metadata: meta() }) as OrderCommand;

// anOrder: 2 x SKU-1 at 1999 and 1 x SKU-2 at 500, 4498 in all, by card.
const placed: PlacedOrder = { ...anOrder, total: 4498, placedAt: NOW };
const pickupOrder: PlacedOrder = { ...placed, delivery: { method: 'pickup', locationId: 'store-1' } };

const ev = {
  placed: { type: 'OrderPlaced', data: placed } as OrderEvent,
  pickupPlaced: { type: 'OrderPlaced', data: pickupOrder } as OrderEvent,
  approved: { type: 'FraudAssessed', data: { orderId, score: 10, decision: 'approve', reasons: [], at: NOW } } as OrderEvent,
  authorized: { type: 'PaymentAuthorized', data: { orderId, authorizationId: 'auth-1', amount: 4498, currency: 'USD', at: NOW } } as OrderEvent,
  allocated: {
    type: 'OrderAllocated',
    data: {
      orderId, allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }, { locationId: 'wh-2', lines: [{ sku: 'SKU-2', quantity: 1 }] }],
      transfers: [], cost: 10, why: 'cheapest', candidates: [], at: NOW,
    },
  } as OrderEvent,
  allocatedAtStore: {
    type: 'OrderAllocated',
    data: { orderId, allocations: [{ locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }] }], transfers: [], cost: 0, why: 'at the store', candidates: [], at: NOW },
  } as OrderEvent,
  released: { type: 'OrderReleased', data: { orderId, at: NOW } } as OrderEvent,
  cancelled: { type: 'OrderCancelled', data: { orderId, reason: 'changed my mind', at: NOW } } as OrderEvent,
  rejected: { type: 'OrderRejected', data: { orderId, cause: 'fraud', detail: 'fraud score 90', at: NOW } } as OrderEvent,
  shipped: (fulfilmentId: string, locationId: string, lines: { sku: string; quantity: number }[]) =>
    ({ type: 'OrderFulfilmentShipped', data: { orderId, fulfilmentId, locationId, lines, at: NOW } }) as OrderEvent,
  delivered: (fulfilmentId: string) => ({ type: 'OrderFulfilmentDelivered', data: { orderId, fulfilmentId, at: NOW } }) as OrderEvent,
  ready: { type: 'OrderReadyForPickup', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', code: '481516', readyAt: NOW, expiresAt: '2026-11-29T10:00:00.000Z', at: NOW } } as OrderEvent,
  collected: { type: 'OrderCollected', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }], at: NOW } } as OrderEvent,
};
const releasedOrder = [ev.placed, ev.approved, ev.authorized, ev.allocated, ev.released];
const releasedPickup = [ev.pickupPlaced, ev.approved, ev.authorized, ev.allocatedAtStore, ev.released];
const shipF1 = ev.shipped('f-1', 'wh-1', [{ sku: 'SKU-1', quantity: 2 }]);
const shipF2 = ev.shipped('f-2', 'wh-2', [{ sku: 'SKU-2', quantity: 1 }]);

/** wh-1 short-picked one SKU-1: that unit is now held at wh-3. */
const shortPick: Reallocation = {
  orderId, released: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }] }], allocations: [{ locationId: 'wh-3', lines: [{ sku: 'SKU-1', quantity: 1 }] }],
  transfers: [], allocationSeq: 1, cost: 7, why: 'wh-3 is the next cheapest', candidates: [], cause: 'short_pick',
};
const reallocated: OrderEvent = { type: 'OrderReallocated', data: { ...shortPick, at: NOW } };

describe('order decider: fulfilment', () => {
  describe('re-sourcing part of an order', () => {
    it('records what moved where, with the cause and the reasons', () => {
      given(releasedOrder).when(command('RecordReallocation', shortPick)).then([reallocated]);
    });

    it('keeps the released part listed as released and the new part as reserved', () => {
      expect(state([...releasedOrder, reallocated]).progress.allocations).to.deep.equal([
        { locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }], status: 'reserved', allocationSeq: 0, transfers: [] },
        { locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }], status: 'released', allocationSeq: 0, transfers: [] },
        { locationId: 'wh-2', lines: [{ sku: 'SKU-2', quantity: 1 }], status: 'reserved', allocationSeq: 0, transfers: [] },
        { locationId: 'wh-3', lines: [{ sku: 'SKU-1', quantity: 1 }], status: 'reserved', allocationSeq: 1, transfers: [] },
      ]);
    });

    it('records nothing for a re-allocation already recorded (a retried re-sourcing)', () => {
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', { ...shortPick, why: 'again' })).then([]);
    });

    it('takes re-allocations in sequence: 409 for one that skips ahead, 400 for one numbered below 1', () => {
      given(releasedOrder).when(command('RecordReallocation', { ...shortPick, allocationSeq: 2 })).thenThrows(ConflictError, 'order.reallocation_out_of_order');
      given(releasedOrder).when(command('RecordReallocation', { ...shortPick, allocationSeq: 0 })).thenThrows(ValidationError, 'order.invalid_allocation_seq');
    });

    it('refuses to release more than the order holds at a location, or units released already', () => {
      const tooMuch = { ...shortPick, released: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 3 }] }], allocations: [{ locationId: 'wh-3', lines: [{ sku: 'SKU-1', quantity: 3 }] }] };
      given(releasedOrder).when(command('RecordReallocation', tooMuch)).thenThrows(ConflictError, 'order.release_exceeds_allocation');
      const elsewhere = { ...shortPick, released: [{ locationId: 'wh-2', lines: [{ sku: 'SKU-1', quantity: 1 }] }] };
      given(releasedOrder).when(command('RecordReallocation', elsewhere)).thenThrows(ConflictError, 'order.release_exceeds_allocation');
      const again = { ...shortPick, released: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], allocations: [{ locationId: 'wh-4', lines: [{ sku: 'SKU-1', quantity: 2 }] }], allocationSeq: 2 };
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', again)).thenThrows(ConflictError, 'order.release_exceeds_allocation');
    });

    it('refuses a re-allocation that does not hold elsewhere exactly what it releases', () => {
      const fewer = { ...shortPick, released: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }] };
      given(releasedOrder).when(command('RecordReallocation', fewer)).thenThrows(ConflictError, 'order.reallocation_unbalanced');
      given(releasedOrder).when(command('RecordReallocation', { ...shortPick, released: [], allocations: [] })).thenThrows(ConflictError, 'order.reallocation_unbalanced');
    });

    it('refuses to re-allocate a closed order, so the allocator releases what it reserved, and one never allocated', () => {
      given([...releasedOrder, ev.cancelled]).when(command('RecordReallocation', shortPick)).thenThrows(ConflictError, 'order.cancelled');
      given([ev.placed, ev.rejected]).when(command('RecordReallocation', shortPick)).thenThrows(ConflictError, 'order.rejected');
      given([ev.placed, ev.approved]).when(command('RecordReallocation', shortPick)).thenThrows(ConflictError, 'order.not_allocated');
    });
  });

  describe('a released order shipping', () => {
    const ship = (fulfilmentId: string, locationId: string, lines: { sku: string; quantity: number }[]) => command('RecordFulfilmentShipped', { orderId, fulfilmentId, locationId, lines });

    it('records a shipment, and is partially shipped until every unit has shipped', () => {
      given(releasedOrder).when(ship('f-1', 'wh-1', [{ sku: 'SKU-1', quantity: 2 }])).then([shipF1]);
      expect(state([...releasedOrder, shipF1]).status).to.equal('partially_shipped');
      expect(state([...releasedOrder, shipF1, shipF2]).status).to.equal('shipped');
    });

    it('records nothing when the same shipment is recorded again', () => {
      given([...releasedOrder, shipF1]).when(ship('f-1', 'wh-1', [{ sku: 'SKU-1', quantity: 2 }])).then([]);
    });

    it('fulfils the allocation the shipment came from, and only what it carried', () => {
      const partly = ev.shipped('f-1', 'wh-1', [{ sku: 'SKU-1', quantity: 1 }]);
      expect(state([...releasedOrder, partly]).progress.allocations).to.deep.equal([
        { locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }], status: 'reserved', allocationSeq: 0, transfers: [] },
        { locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }], status: 'fulfilled', allocationSeq: 0, transfers: [], fulfilmentId: 'f-1' },
        { locationId: 'wh-2', lines: [{ sku: 'SKU-2', quantity: 1 }], status: 'reserved', allocationSeq: 0, transfers: [] },
      ]);
    });

    it('refuses to ship more units than were ordered: 409', () => {
      given([...releasedOrder, shipF2]).when(ship('f-3', 'wh-3', [{ sku: 'SKU-2', quantity: 1 }])).thenThrows(ConflictError, 'order.more_than_ordered');
      given(releasedOrder).when(ship('f-1', 'wh-1', [{ sku: 'SKU-1', quantity: 3 }])).thenThrows(ConflictError, 'order.more_than_ordered');
      given(releasedOrder).when(ship('f-1', 'wh-1', [{ sku: 'SKU-9', quantity: 1 }])).thenThrows(ConflictError, 'order.more_than_ordered');
    });

    it('refuses a shipment of no or broken quantities (400), and one of an order not released (409)', () => {
      given(releasedOrder).when(ship('f-1', 'wh-1', [])).thenThrows(ValidationError, 'order.invalid_lines');
      given(releasedOrder).when(ship('f-1', 'wh-1', [{ sku: 'SKU-1', quantity: 0 }])).thenThrows(ValidationError, 'order.invalid_lines');
      given([ev.placed, ev.approved, ev.allocated]).when(ship('f-1', 'wh-1', [{ sku: 'SKU-1', quantity: 2 }])).thenThrows(ConflictError, 'order.not_released');
    });

    it('records a shipment even once the order was cancelled (the units have left), and stays cancelled', () => {
      given([...releasedOrder, ev.cancelled]).when(ship('f-1', 'wh-1', [{ sku: 'SKU-1', quantity: 2 }])).then([shipF1]);
      const after = state([...releasedOrder, ev.cancelled, shipF1]);
      expect(after.status).to.equal('cancelled');
      expect(after.progress.allocations.map((a) => a.status)).to.deep.equal(['fulfilled', 'released']);
    });
  });

  describe('delivery', () => {
    const deliver = (fulfilmentId: string) => command('RecordFulfilmentDelivered', { orderId, fulfilmentId });

    it('records a shipment delivered, once', () => {
      given([...releasedOrder, shipF1]).when(deliver('f-1')).then([ev.delivered('f-1')]);
      given([...releasedOrder, shipF1, ev.delivered('f-1')]).when(deliver('f-1')).then([]);
    });

    it('refuses the delivery of a fulfilment that has not shipped: 409', () => {
      given([...releasedOrder, shipF1]).when(deliver('f-2')).thenThrows(ConflictError, 'order.fulfilment_not_shipped');
    });

    it('is delivered once everything has shipped and every shipment has been delivered', () => {
      expect(state([...releasedOrder, shipF1, ev.delivered('f-1')]).status).to.equal('partially_shipped');
      expect(state([...releasedOrder, shipF1, ev.delivered('f-1'), shipF2]).status).to.equal('shipped');
      expect(state([...releasedOrder, shipF1, ev.delivered('f-1'), shipF2, ev.delivered('f-2')]).status).to.equal('delivered');
    });
  });

  describe('cancelling', () => {
    const cancel = command('CancelOrder', { orderId, reason: 'too late' });

    it('is refused with 409 once anything has shipped or been collected', () => {
      given([...releasedOrder, shipF1]).when(cancel).thenThrows(ConflictError, 'order.already_shipped');
      given([...releasedPickup, ev.ready, ev.collected]).when(cancel).thenThrows(ConflictError, 'order.already_shipped');
    });

    it('is still allowed while the order waits to ship or at the counter', () => {
      given(releasedOrder).when(cancel).then([{ type: 'OrderCancelled', data: { orderId, reason: 'too late', at: NOW } }]);
      given([...releasedPickup, ev.ready]).when(cancel).then([{ type: 'OrderCancelled', data: { orderId, reason: 'too late', at: NOW } }]);
    });

    it('releases every allocation the order still holds, as rejecting it does', () => {
      expect(state([...releasedOrder, ev.cancelled]).progress.allocations.map((a) => a.status)).to.deep.equal(['released', 'released']);
      expect(state([ev.placed, ev.allocated, ev.rejected]).progress.allocations.map((a) => a.status)).to.deep.equal(['released', 'released']);
    });
  });

  describe('pickup in store', () => {
    const ready = command('RecordReadyForPickup', { orderId, fulfilmentId: 'f-s', locationId: 'store-1', code: '481516', readyAt: NOW, expiresAt: '2026-11-29T10:00:00.000Z' });
    const collect = (lines = [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }]) => command('RecordCollection', { orderId, fulfilmentId: 'f-s', lines });

    it('records the pickup ready with its code and expiry, once, and the order is ready for pickup', () => {
      given(releasedPickup).when(ready).then([ev.ready]);
      given([...releasedPickup, ev.ready]).when(ready).then([]);
      expect(state([...releasedPickup, ev.ready]).status).to.equal('ready_for_pickup');
    });

    it('records the collection at the pickup\'s location, once, and the order is collected', () => {
      given([...releasedPickup, ev.ready]).when(collect()).then([ev.collected]);
      given([...releasedPickup, ev.ready, ev.collected]).when(collect()).then([]);
      const after = state([...releasedPickup, ev.ready, ev.collected]);
      expect(after.status).to.equal('collected');
      expect(after.progress.allocations).to.deep.equal([
        { locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }], status: 'fulfilled', allocationSeq: 0, transfers: [], fulfilmentId: 'f-s' },
      ]);
    });

    it('refuses a collection before the pickup is ready, and one of more than was ordered: 409', () => {
      given(releasedPickup).when(collect()).thenThrows(ConflictError, 'order.pickup_not_ready');
      given([...releasedPickup, ev.ready]).when(collect([{ sku: 'SKU-2', quantity: 2 }])).thenThrows(ConflictError, 'order.more_than_ordered');
    });

    it('refuses pickup facts for an order that is shipped: 409', () => {
      given(releasedOrder).when(ready).thenThrows(ConflictError, 'order.not_pickup');
      given(releasedOrder).when(collect()).thenThrows(ConflictError, 'order.not_pickup');
    });

    it('refuses a pickup ready before the order was released: 409', () => {
      given([ev.pickupPlaced, ev.approved, ev.allocatedAtStore]).when(ready).thenThrows(ConflictError, 'order.not_released');
    });
  });

  describe('status', () => {
    const open: StatusFacts = {
      cancelled: false, rejected: false, released: true, fraudDecision: 'approve', reviewed: false, backordered: false,
      handedOver: 'none', collected: false, delivered: false, readyForPickup: false,
    };

    it('goes closed first, then collected, delivered, shipped, partially shipped, ready for pickup, released', () => {
      const all = { ...open, handedOver: 'all' as const };
      expect(statusOf({ ...all, collected: true, delivered: true, cancelled: true })).to.equal('cancelled');
      expect(statusOf({ ...all, collected: true, rejected: true })).to.equal('rejected');
      expect(statusOf({ ...all, collected: true, delivered: true })).to.equal('collected');
      expect(statusOf({ ...all, delivered: true })).to.equal('delivered');
      expect(statusOf(all)).to.equal('shipped');
      expect(statusOf({ ...open, handedOver: 'part', delivered: true, readyForPickup: true })).to.equal('partially_shipped');
      expect(statusOf({ ...open, readyForPickup: true })).to.equal('ready_for_pickup');
      expect(statusOf(open)).to.equal('released');
    });
  });
});
