import { expect } from 'chai';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import { fold } from '../../write-side/decider.js';
import { orderDecider, type OrderCommand } from '../../write-side/orders/order.decider.js';
import type { OrderEvent, PlacedOrder, TransferLeg } from '../../write-side/orders/order.events.js';
import { reservedAt } from '../../write-side/orders/order-progress.js';
import type { PlacedState } from '../../write-side/orders/order.state.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';
import { anOrder } from './order.decider.test.js';

// A pickup order at store-1 (2 x SKU-1, 1 x SKU-2): the store holds SKU-2 and one SKU-1; the
// other SKU-1 is reserved at wh-1 and transferred to the store.

const given = specFor(orderDecider);
const orderId = 'o-1';
const state = (events: OrderEvent[]) => fold(orderDecider, events) as PlacedState;
const command = <T extends OrderCommand['type']>(type: T, data: Extract<OrderCommand, { type: T }>['data']) => ({ type, data, metadata: meta() }) as OrderCommand;

const pickupOrder: PlacedOrder = { ...anOrder, total: 4498, placedAt: NOW, delivery: { method: 'pickup', locationId: 'store-1' } };
const leg: TransferLeg = { orderId, fulfilmentId: 't-1', from: 'wh-1', to: 'store-1', lines: [{ sku: 'SKU-1', quantity: 1 }] };
const ev = {
  placed: { type: 'OrderPlaced', data: pickupOrder } as OrderEvent,
  shipPlaced: { type: 'OrderPlaced', data: { ...pickupOrder, delivery: anOrder.delivery } } as OrderEvent,
  approved: { type: 'FraudAssessed', data: { orderId, score: 10, decision: 'approve', reasons: [], at: NOW } } as OrderEvent,
  authorized: { type: 'PaymentAuthorized', data: { orderId, authorizationId: 'auth-1', amount: 4498, currency: 'USD', at: NOW } } as OrderEvent,
  allocated: {
    type: 'OrderAllocated',
    data: {
      orderId, allocations: [
        { locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }] }, { locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }] },
      ],
      transfers: [{ from: 'wh-1', to: 'store-1', lines: [{ sku: 'SKU-1', quantity: 1 }] }], cost: 900, why: 'the rest transfers from wh-1', candidates: [], at: NOW,
    },
  } as OrderEvent,
  released: { type: 'OrderReleased', data: { orderId, at: NOW } } as OrderEvent,
  cancelled: { type: 'OrderCancelled', data: { orderId, reason: 'not_collected', at: NOW } } as OrderEvent,
  sent: { type: 'OrderTransferShipped', data: { ...leg, at: NOW } } as OrderEvent,
  arrived: (reserved = true) => ({ type: 'OrderTransferReceived', data: { ...leg, reserved, at: NOW } }) as OrderEvent,
  ready: { type: 'OrderReadyForPickup', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', code: '481516', readyAt: NOW, expiresAt: '2026-11-29T10:00:00.000Z', at: NOW } } as OrderEvent,
  collected: { type: 'OrderCollected', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }], at: NOW } } as OrderEvent,
};
const released = [ev.placed, ev.approved, ev.authorized, ev.allocated, ev.released];
const send = command('RecordTransferShipped', leg);
const receive = command('RecordTransferReceived', leg);
const statuses = (events: OrderEvent[]) => state(events).progress.allocations.map((a) => `${a.locationId}:${a.status}`);

describe('order decider: transfers to the pickup store', () => {
  describe('a transfer sent', () => {
    it('is recorded once; its units are on their way, held nowhere', () => {
      given(released).when(send).then([ev.sent]);
      given([...released, ev.sent]).when(send).then([]);
      expect(statuses([...released, ev.sent])).to.deep.equal(['store-1:reserved', 'wh-1:in_transit']);
      expect(reservedAt(state([...released, ev.sent]).progress, 'wh-1').size).to.equal(0);
    });

    it('hands nothing to the customer: the order stays released, nothing to capture', () => {
      const after = state([...released, ev.sent]);
      expect(after.status).to.equal('released');
      expect(after.handovers).to.deep.equal([]);
    });

    it('refuses a transfer for an order shipped to the customer, or to another store, with 409', () => {
      given([ev.shipPlaced, ev.approved, ev.authorized, ev.allocated, ev.released]).when(send).thenThrows(ConflictError, 'order.not_pickup');
      given(released).when(command('RecordTransferShipped', { ...leg, to: 'store-2' })).thenThrows(ConflictError, 'order.not_pickup');
    });

    it('refuses one of an order not released (409), and one of no or broken quantities (400)', () => {
      given([ev.placed, ev.approved, ev.allocated]).when(send).thenThrows(ConflictError, 'order.not_released');
      given(released).when(command('RecordTransferShipped', { ...leg, lines: [{ sku: 'SKU-1', quantity: 0 }] })).thenThrows(ValidationError, 'order.invalid_lines');
    });

    it('is recorded even once the order was cancelled (the parcel had left)', () => {
      given([...released, ev.cancelled]).when(send).then([ev.sent]);
      expect(statuses([...released, ev.cancelled, ev.sent])).to.deep.equal(['store-1:released', 'wh-1:in_transit']);
    });
  });

  describe('a transfer received at the pickup store', () => {
    it('is recorded once, its units held at the store for the order', () => {
      given([...released, ev.sent]).when(receive).then([ev.arrived()]);
      given([...released, ev.sent, ev.arrived()]).when(receive).then([]);
      const after = state([...released, ev.sent, ev.arrived()]);
      expect(after.progress.allocations.map((a) => `${a.locationId}:${a.status}`)).to.deep.equal(['store-1:reserved', 'wh-1:transferred', 'store-1:reserved']);
      expect(after.progress.allocations[2]).to.include({ transferredFrom: 'wh-1', allocationSeq: 0 });
      expect(reservedAt(after.progress, 'store-1').get('SKU-1')).to.equal(2);
    });

    it('refuses one that was never sent with 409', () => {
      given(released).when(receive).thenThrows(ConflictError, 'order.transfer_not_shipped');
    });

    it('holds nothing for an order cancelled on the way: the units are the store\'s to sell', () => {
      given([...released, ev.sent, ev.cancelled]).when(receive).then([ev.arrived(false)]);
      expect(statuses([...released, ev.sent, ev.cancelled, ev.arrived(false)])).to.deep.equal(['store-1:released', 'wh-1:transferred']);
    });

    it('releases the units received when the order is cancelled afterwards (not collected in time)', () => {
      expect(statuses([...released, ev.sent, ev.arrived(), ev.cancelled])).to.deep.equal(['store-1:released', 'wh-1:transferred', 'store-1:released']);
    });

    it('lets a re-sourcing release at the store the units that arrived there, and not before', () => {
      const moved = {
        orderId, released: [{ locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], allocations: [{ locationId: 'wh-2', lines: [{ sku: 'SKU-1', quantity: 2 }] }],
        transfers: [{ from: 'wh-2', to: 'store-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], allocationSeq: 1, cost: 900, why: 'wh-2', candidates: [], cause: 'short_pick' as const, backordered: [], fulfilmentId: 'f-s', causeEventId: 'e-1',
      };
      given([...released, ev.sent]).when(command('RecordReallocation', moved)).thenThrows(ConflictError, 'order.release_exceeds_allocation');
      given([...released, ev.sent, ev.arrived()]).when(command('RecordReallocation', moved)).then([{ type: 'OrderReallocated', data: { ...moved, at: NOW } }]);
    });
  });

  describe('an order with units on their way and the rest backordered', () => {
    it('is released, not backordered: the units on their way are held for it', () => {
      const storeGaveBack: OrderEvent = {
        type: 'OrderReallocated',
        data: {
          orderId, released: [{ locationId: 'store-1', lines: [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }] }], allocations: [], transfers: [], allocationSeq: 1,
          cost: 0, why: 'backordered: not enough stock in the network', candidates: [], cause: 'rejected', backordered: [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }],
          fulfilmentId: 'f-s', causeEventId: 'e-1', at: NOW,
        },
      };
      expect(statuses([...released, ev.sent, storeGaveBack])).to.deep.equal(['store-1:released', 'wh-1:in_transit'], 'nothing reserved anywhere');
      expect(state([...released, ev.sent, storeGaveBack]).status).to.equal('released');
      expect(state([...released, ev.sent, storeGaveBack, ev.arrived()]).status).to.equal('released');
    });
  });

  describe('collecting an order whose units came by transfer', () => {
    it('fulfils the store\'s own part and the part that arrived, and the order is collected', () => {
      const after = state([...released, ev.sent, ev.arrived(), ev.ready, ev.collected]);
      expect(after.status).to.equal('collected');
      expect(after.progress.allocations.map((a) => `${a.locationId}:${a.status}`)).to.deep.equal(['store-1:fulfilled', 'wh-1:transferred', 'store-1:fulfilled']);
    });
  });
});
