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

/** wh-1 short-picked one SKU-1 (fulfilment f-1, in event e-pick-f-1): that unit is now held at wh-3. */
const shortPick: Reallocation = {
  orderId, released: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }] }], allocations: [{ locationId: 'wh-3', lines: [{ sku: 'SKU-1', quantity: 1 }] }],
  transfers: [], allocationSeq: 1, cost: 7, why: 'wh-3 is the next cheapest', candidates: [], cause: 'short_pick', backordered: [],
  fulfilmentId: 'f-1', causeEventId: 'e-pick-f-1',
};
const reallocated: OrderEvent = { type: 'OrderReallocated', data: { ...shortPick, at: NOW } };

/** A location rejected its fulfilment (`f-<locationId>`) of these lines and no other could take them. */
const givenBackNowhere = (locationId: string, lines: { sku: string; quantity: number }[], allocationSeq: number): Reallocation => ({
  orderId, released: [{ locationId, lines }], allocations: [], transfers: [], allocationSeq, cost: 0, why: 'backordered: not enough stock in the network', candidates: [],
  cause: 'rejected', backordered: lines, fulfilmentId: `f-${locationId}`, causeEventId: `e-reject-${locationId}`,
});
const asEvent = (r: Reallocation): OrderEvent => ({ type: 'OrderReallocated', data: { ...r, at: NOW } });
/** Stock arrived for what the order waits for: it goes to `locationId`. */
const fill = (locationId: string, lines: { sku: string; quantity: number }[], allocationSeq: number): Reallocation => ({
  orderId, released: [], allocations: [{ locationId, lines }], transfers: [], allocationSeq, cost: 5, why: `${locationId} fills the whole order`, candidates: [],
  cause: 'backorder', backordered: [],
});

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

    it('records nothing for a give-back already re-sourced, known by the event that gave the lines back, whatever number it is sent under', () => {
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', { ...shortPick, why: 'again' })).then([]);
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', { ...shortPick, allocationSeq: 2, allocations: [{ locationId: 'wh-4', lines: [{ sku: 'SKU-1', quantity: 1 }] }] })).then([]);
    });

    it('takes re-allocations in sequence: 409 for one that skips ahead or comes under a number another took, 400 for one numbered below 1', () => {
      given(releasedOrder).when(command('RecordReallocation', { ...shortPick, allocationSeq: 2 })).thenThrows(ConflictError, 'order.reallocation_out_of_order');
      const other = { ...givenBackNowhere('wh-2', [{ sku: 'SKU-2', quantity: 1 }], 1) };
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', other)).thenThrows(ConflictError, 'order.reallocation_out_of_order');
      given(releasedOrder).when(command('RecordReallocation', { ...shortPick, allocationSeq: 0 })).thenThrows(ValidationError, 'order.invalid_allocation_seq');
    });

    it('names the fulfilment that gave the lines back and the event it did so in: 400 without', () => {
      const { fulfilmentId: _f, ...noFulfilment } = shortPick;
      const { causeEventId: _e, ...noEvent } = shortPick;
      given(releasedOrder).when(command('RecordReallocation', noFulfilment)).thenThrows(ValidationError, 'order.give_back_unnamed');
      given(releasedOrder).when(command('RecordReallocation', noEvent)).thenThrows(ValidationError, 'order.give_back_unnamed');
    });

    it('never puts lines back where they were given back, now or at an earlier turn: 409', () => {
      const toItself = { ...shortPick, allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }] }] };
      given(releasedOrder).when(command('RecordReallocation', toItself)).thenThrows(ConflictError, 'order.location_gave_back');
      // wh-3 now rejects the unit it took from wh-1: it may go anywhere but wh-1 and wh-3.
      const back = (locationId: string): Reallocation => ({
        ...shortPick, released: [{ locationId: 'wh-3', lines: [{ sku: 'SKU-1', quantity: 1 }] }], allocations: [{ locationId, lines: [{ sku: 'SKU-1', quantity: 1 }] }],
        allocationSeq: 2, cause: 'rejected', fulfilmentId: 'f-3', causeEventId: 'e-reject-f-3',
      });
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', back('wh-1'))).thenThrows(ConflictError, 'order.location_gave_back');
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', back('wh-4'))).then([asEvent(back('wh-4'))]);
      // wh-2 gave nothing back: it may take SKU-1.
      const wh2 = { ...back('wh-2') };
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', wh2)).then([asEvent(wh2)]);
    });

    it('refuses to release more than the order holds at a location, or units released already', () => {
      const tooMuch = { ...shortPick, released: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 3 }] }], allocations: [{ locationId: 'wh-3', lines: [{ sku: 'SKU-1', quantity: 3 }] }] };
      given(releasedOrder).when(command('RecordReallocation', tooMuch)).thenThrows(ConflictError, 'order.release_exceeds_allocation');
      const elsewhere = { ...shortPick, released: [{ locationId: 'wh-2', lines: [{ sku: 'SKU-1', quantity: 1 }] }] };
      given(releasedOrder).when(command('RecordReallocation', elsewhere)).thenThrows(ConflictError, 'order.release_exceeds_allocation');
      const again = { ...shortPick, released: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], allocations: [{ locationId: 'wh-4', lines: [{ sku: 'SKU-1', quantity: 2 }] }], allocationSeq: 2, causeEventId: 'e-reject-f-1' };
      given([...releasedOrder, reallocated]).when(command('RecordReallocation', again)).thenThrows(ConflictError, 'order.release_exceeds_allocation');
    });

    it('refuses a re-allocation that does not hold elsewhere or backorder exactly what it releases', () => {
      const fewer = { ...shortPick, released: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }] };
      given(releasedOrder).when(command('RecordReallocation', fewer)).thenThrows(ConflictError, 'order.reallocation_unbalanced');
      given(releasedOrder).when(command('RecordReallocation', { ...shortPick, released: [], allocations: [] })).thenThrows(ConflictError, 'order.reallocation_unbalanced');
      const both = { ...shortPick, backordered: [{ sku: 'SKU-1', quantity: 1 }] };
      given(releasedOrder).when(command('RecordReallocation', both)).thenThrows(ConflictError, 'order.reallocation_unbalanced');
      const moreBackordered = { ...givenBackNowhere('wh-1', [{ sku: 'SKU-1', quantity: 1 }], 1), backordered: [{ sku: 'SKU-1', quantity: 2 }] };
      given(releasedOrder).when(command('RecordReallocation', moreBackordered)).thenThrows(ConflictError, 'order.reallocation_unbalanced');
    });

    it('refuses to re-allocate a closed order, so the allocator releases what it reserved, and one never allocated', () => {
      given([...releasedOrder, ev.cancelled]).when(command('RecordReallocation', shortPick)).thenThrows(ConflictError, 'order.cancelled');
      given([ev.placed, ev.rejected]).when(command('RecordReallocation', shortPick)).thenThrows(ConflictError, 'order.rejected');
      given([ev.placed, ev.approved]).when(command('RecordReallocation', shortPick)).thenThrows(ConflictError, 'order.not_allocated');
    });
  });

  describe('lines given back that no location can take', () => {
    const wh1 = givenBackNowhere('wh-1', [{ sku: 'SKU-1', quantity: 2 }], 1);
    const wh2 = givenBackNowhere('wh-2', [{ sku: 'SKU-2', quantity: 1 }], 2);

    it('are recorded backordered: released where they were given back, held nowhere, waiting for stock', () => {
      given(releasedOrder).when(command('RecordReallocation', wh1)).then([asEvent(wh1)]);
      const after = state([...releasedOrder, asEvent(wh1)]);
      expect(after.progress.allocations.map((a) => `${a.locationId}:${a.status}`)).to.deep.equal(['wh-1:released', 'wh-2:reserved']);
      expect(after.progress.backordered).to.deep.equal([{ lines: [{ sku: 'SKU-1', quantity: 2 }], allocationSeq: 1, from: ['wh-1'], filledBy: null }]);
      expect(after.status, 'wh-2 still has its part to ship').to.equal('released');
    });

    it('leave the order backordered once all it has left waits for stock, and partially shipped when the rest has shipped', () => {
      expect(state([...releasedOrder, asEvent(wh1), asEvent(wh2)]).status).to.equal('backordered');
      expect(state([...releasedOrder, shipF2, asEvent(wh1)]).status).to.equal('partially_shipped');
    });

    it('are filled once stock arrives: all the units waiting, held at the new location, nothing released', () => {
      const history = [...releasedOrder, asEvent(wh1), asEvent(wh2)];
      const filled = fill('wh-4', [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }], 3);
      given(history).when(command('RecordReallocation', filled)).then([asEvent(filled)]);
      const after = state([...history, asEvent(filled)]);
      expect(after.status).to.equal('released');
      expect(after.progress.backordered.map((b) => b.filledBy)).to.deep.equal([3, 3]);
      expect(after.progress.allocations.filter((a) => a.status === 'reserved')).to.deep.equal([
        { locationId: 'wh-4', lines: [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }], status: 'reserved', allocationSeq: 3, transfers: [] },
      ]);
      given([...history, asEvent(filled)]).when(command('RecordReallocation', filled)).then([]);
    });

    it('refuse a fill that is not exactly what waits, that releases something, or that goes where the lines were given back: 409', () => {
      const history = [...releasedOrder, asEvent(wh1)];
      const part = fill('wh-4', [{ sku: 'SKU-1', quantity: 1 }], 2);
      given(history).when(command('RecordReallocation', part)).thenThrows(ConflictError, 'order.backorder_fill_mismatch');
      given(releasedOrder).when(command('RecordReallocation', fill('wh-4', [{ sku: 'SKU-1', quantity: 2 }], 1))).thenThrows(ConflictError, 'order.backorder_fill_mismatch');
      const releasing = { ...fill('wh-4', [{ sku: 'SKU-1', quantity: 2 }], 2), released: [{ locationId: 'wh-2', lines: [{ sku: 'SKU-2', quantity: 1 }] }] };
      given(history).when(command('RecordReallocation', releasing)).thenThrows(ConflictError, 'order.backorder_fill_mismatch');
      given(history).when(command('RecordReallocation', fill('wh-1', [{ sku: 'SKU-1', quantity: 2 }], 2))).thenThrows(ConflictError, 'order.location_gave_back');
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
      handedOver: 'none', collected: false, delivered: false, readyForPickup: false, awaitingStock: false,
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
      expect(statusOf({ ...open, handedOver: 'part', awaitingStock: true })).to.equal('partially_shipped');
      expect(statusOf({ ...open, awaitingStock: true })).to.equal('backordered');
      expect(statusOf(open)).to.equal('released');
    });
  });
});
