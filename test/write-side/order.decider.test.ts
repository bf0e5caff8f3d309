import { ConflictError, NotFoundError } from '../../platform/errors.js';
import { orderDecider, type PlaceOrderData } from '../../write-side/orders/order.decider.js';
import type { OrderEvent, PlacedOrder } from '../../write-side/orders/order.events.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';

const given = specFor(orderDecider);

export const anOrder: PlaceOrderData = {
  orderId: 'o-1',
  channel: 'marketplace',
  source: 'lazada',
  externalId: 'LZ-10001',
  currency: 'USD',
  customer: { id: 'c-42', email: 'ana@example.com', name: 'Ana' },
  lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 1999 }, { sku: 'SKU-2', quantity: 1, unitPrice: 500 }],
  delivery: { method: 'ship', speed: 'standard', address: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' } },
  payment: { method: 'card', token: 'tok_ok' },
  placedBy: 'key-1',
};
const placed: PlacedOrder = { ...anOrder, total: 4498, placedAt: NOW };
const orderPlaced: OrderEvent = { type: 'OrderPlaced', data: placed };

describe('order decider', () => {
  describe('a new order', () => {
    it('is placed with its total computed from the lines', () => {
      given([]).when({ type: 'PlaceOrder', data: anOrder, metadata: meta() }).then([orderPlaced]);
    });

    it('cannot be cancelled: 404', () => {
      given([]).when({ type: 'CancelOrder', data: { orderId: 'o-1', reason: 'changed mind' }, metadata: meta() })
        .thenThrows(NotFoundError, 'order.not_found');
    });

    it('cannot be assessed for fraud: 404', () => {
      given([]).when({ type: 'RecordFraudAssessment', data: { orderId: 'o-1', score: 0, decision: 'approve', reasons: [] }, metadata: meta() })
        .thenThrows(NotFoundError, 'order.not_found');
    });
  });

  describe('an order already placed', () => {
    it('records nothing when the same channel order arrives again', () => {
      given([orderPlaced]).when({ type: 'PlaceOrder', data: { ...anOrder, lines: [{ sku: 'X', quantity: 9, unitPrice: 1 }] }, metadata: meta() }).then([]);
    });

    it('is cancelled with the reason', () => {
      given([orderPlaced]).when({ type: 'CancelOrder', data: { orderId: 'o-1', reason: 'changed mind' }, metadata: meta() })
        .then([{ type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'changed mind', at: NOW } }]);
    });

    it('records a fraud assessment with its reasons', () => {
      const reasons = [{ code: 'new_customer', points: 10, detail: 'first order of c-42' }];
      given([orderPlaced]).when({ type: 'RecordFraudAssessment', data: { orderId: 'o-1', score: 10, decision: 'approve', reasons }, metadata: meta() })
        .then([{ type: 'FraudAssessed', data: { orderId: 'o-1', score: 10, decision: 'approve', reasons, at: NOW } }]);
    });
  });

  describe('an order already assessed', () => {
    it('records nothing for a repeated assessment (a retried job)', () => {
      given([orderPlaced, { type: 'FraudAssessed', data: { orderId: 'o-1', score: 10, decision: 'approve', reasons: [], at: NOW } }])
        .when({ type: 'RecordFraudAssessment', data: { orderId: 'o-1', score: 90, decision: 'reject', reasons: [] }, metadata: meta() })
        .then([]);
    });
  });

  describe('a cancelled order', () => {
    it('records nothing when cancelled again', () => {
      given([orderPlaced, { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'x', at: NOW } }])
        .when({ type: 'CancelOrder', data: { orderId: 'o-1', reason: 'again' }, metadata: meta() }).then([]);
    });
  });

  describe('sourcing an order', () => {
    const plan = {
      orderId: 'o-1', allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], transfers: [], cost: 1234,
      why: 'wh-1 fills the whole order at the lowest cost', candidates: [{ locationId: 'wh-1', eligible: true, reason: 'can fill every line', canFill: [{ sku: 'SKU-1', quantity: 2 }], cost: 1234 }],
    };
    const allocated: OrderEvent = { type: 'OrderAllocated', data: { ...plan, at: NOW } };
    const backorder = { orderId: 'o-1', missing: [{ sku: 'SKU-2', quantity: 1 }], why: 'not enough SKU-2 anywhere', candidates: [] };
    const backordered: OrderEvent = { type: 'OrderBackordered', data: { ...backorder, at: NOW } };

    it('records the allocation with the candidates and the reason', () => {
      given([orderPlaced]).when({ type: 'RecordAllocation', data: plan, metadata: meta() }).then([allocated]);
    });

    it('records nothing when allocated again (a retried job)', () => {
      given([orderPlaced, allocated]).when({ type: 'RecordAllocation', data: plan, metadata: meta() }).then([]);
    });

    it('refuses to allocate a cancelled order, so the allocator releases what it reserved', () => {
      given([orderPlaced, { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'x', at: NOW } }])
        .when({ type: 'RecordAllocation', data: plan, metadata: meta() }).thenThrows(ConflictError, 'order.cancelled');
    });

    it('backorders the missing lines once', () => {
      given([orderPlaced]).when({ type: 'RecordBackorder', data: backorder, metadata: meta() }).then([backordered]);
      given([orderPlaced, backordered]).when({ type: 'RecordBackorder', data: backorder, metadata: meta() }).then([]);
    });

    it('allocates a backordered order when stock arrives', () => {
      given([orderPlaced, backordered]).when({ type: 'RecordAllocation', data: plan, metadata: meta() }).then([allocated]);
    });

    it('does not backorder a cancelled or an allocated order', () => {
      given([orderPlaced, allocated]).when({ type: 'RecordBackorder', data: backorder, metadata: meta() }).then([]);
      given([orderPlaced, { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'x', at: NOW } }])
        .when({ type: 'RecordBackorder', data: backorder, metadata: meta() }).then([]);
    });
  });
});
