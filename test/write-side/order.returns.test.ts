import { ConflictError, ValidationError } from '../../platform/errors.js';
import { orderDecider } from '../../write-side/orders/order.decider.js';
import type { OrderEvent, PlacedOrder } from '../../write-side/orders/order.events.js';
import { meta, specFor } from '../support/given-when-then.js';

// The return policy and the refund arithmetic, decided on the order: given its events, when a
// return is asked for or a receipt's refund is requested, then the events or the broken rule.

const given = specFor(orderDecider);
const DELIVERED_AT = '2026-11-01T10:00:00.000Z';
const SOON = '2026-11-05T10:00:00.000Z';
const DAY = 86_400_000;
const later = (days: number) => new Date(Date.parse(DELIVERED_AT) + days * DAY).toISOString();

const order: PlacedOrder = {
  orderId: 'o-1', channel: 'web', externalId: 'W-1', currency: 'EUR', customer: { id: 'c-1' },
  // SKU-A sold at two prices: the first two units at 1000, the third at 800.
  lines: [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000 }, { sku: 'SKU-B', quantity: 1, unitPrice: 500 }, { sku: 'SKU-A', quantity: 1, unitPrice: 800 }],
  shippingPrice: 400, total: 3700,
  delivery: { method: 'ship', speed: 'standard', address: { line1: '1 Main St', city: 'Hamburg', postalCode: '20095', country: 'DE' } },
  payment: { method: 'card', token: 'tok_ok' }, placedAt: '2026-10-30T10:00:00.000Z', placedBy: 'key-1',
};
const all = [{ sku: 'SKU-A', quantity: 3 }, { sku: 'SKU-B', quantity: 1 }];
const at = '2026-10-31T10:00:00.000Z';

const placedAndPaid: OrderEvent[] = [
  { type: 'OrderPlaced', data: order },
  { type: 'PaymentAuthorized', data: { orderId: 'o-1', authorizationId: 'auth-1', amount: 3700, currency: 'EUR', at } },
  { type: 'OrderAllocated', data: { orderId: 'o-1', allocations: [{ locationId: 'wh-1', lines: all }], transfers: [], cost: 100, why: 'one parcel', candidates: [], at } },
  { type: 'FraudAssessed', data: { orderId: 'o-1', score: 0, decision: 'approve', reasons: [], at } },
  { type: 'OrderReleased', data: { orderId: 'o-1', at } },
];
const shipped = (lines = all, fulfilmentId = 'f-1'): OrderEvent => ({ type: 'OrderFulfilmentShipped', data: { orderId: 'o-1', fulfilmentId, locationId: 'wh-1', lines, at } });
const captured = (amount: number, fulfilmentId = 'f-1', total = amount): OrderEvent => ({ type: 'PaymentCaptured', data: { orderId: 'o-1', captureId: `cap-${fulfilmentId}`, amount, totalCaptured: total, fulfilmentId, at } });
const delivered = (fulfilmentId = 'f-1', when = DELIVERED_AT): OrderEvent => ({ type: 'OrderFulfilmentDelivered', data: { orderId: 'o-1', fulfilmentId, at: when } });
const deliveredOrder = [...placedAndPaid, shipped(), captured(3700), delivered()];

const ask = (lines: { sku: string; quantity: number }[], returnId = 'r-1', now = SOON) => ({
  type: 'AuthorizeReturn' as const,
  data: { orderId: 'o-1', returnId, lines: lines.map((l) => ({ ...l, reason: 'too small' })), resolution: 'refund' as const, windowDays: 30 },
  metadata: meta(now),
});
const authorized = (returnId: string, lines: { sku: string; quantity: number; unitPrice: number }[], when = SOON): OrderEvent => ({
  type: 'OrderReturnAuthorized', data: { orderId: 'o-1', returnId, lines: lines.map((l) => ({ ...l, reason: 'too small' })), resolution: 'refund', at: when },
});
const refundFor = (refundKey: string, lines: { sku: string; quantity: number; unitPrice: number }[], returnId = 'r-1', refundShipping = true) => ({
  type: 'RequestRefund' as const, data: { orderId: 'o-1', refundKey, returnId, lines, refundShipping }, metadata: meta(SOON),
});
const requested = (refundKey: string, amount: number, value: number, shipping: number, units: number, returnId = 'r-1'): OrderEvent => ({
  type: 'OrderRefundRequested', data: { orderId: 'o-1', refundKey, returnId, amount, value, shipping, units, at: SOON },
});

describe('order returns: the policy', () => {
  it('authorises delivered units, priced along the order lines for their SKU (the first units at the first line\'s price)', () => {
    given(deliveredOrder).when(ask([{ sku: 'SKU-A', quantity: 3 }])).then([authorized('r-1', [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000 }, { sku: 'SKU-A', quantity: 1, unitPrice: 800 }])]);
  });

  it('prices a later return of the same SKU after the units returned before', () => {
    given([...deliveredOrder, authorized('r-1', [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000 }])])
      .when(ask([{ sku: 'SKU-A', quantity: 1 }], 'r-2')).then([authorized('r-2', [{ sku: 'SKU-A', quantity: 1, unitPrice: 800 }])]);
  });

  it('records nothing for the same return asked for again', () => {
    given([...deliveredOrder, authorized('r-1', [{ sku: 'SKU-B', quantity: 1, unitPrice: 500 }])]).when(ask([{ sku: 'SKU-B', quantity: 1 }])).then([]);
  });

  it('refuses units of an order that has shipped nothing: return.not_shipped', () => {
    given(placedAndPaid).when(ask([{ sku: 'SKU-B', quantity: 1 }])).thenThrows(ConflictError, 'return.not_shipped');
  });

  it('refuses more units than were shipped: return.exceeds_shipped', () => {
    given(deliveredOrder).when(ask([{ sku: 'SKU-B', quantity: 2 }])).thenThrows(ConflictError, 'return.exceeds_shipped');
  });

  it('refuses units an earlier return already takes back: return.already_returned', () => {
    given([...deliveredOrder, authorized('r-1', [{ sku: 'SKU-B', quantity: 1, unitPrice: 500 }])]).when(ask([{ sku: 'SKU-B', quantity: 1 }], 'r-2'))
      .thenThrows(ConflictError, 'return.already_returned');
  });

  it('refuses units shipped but not delivered yet: return.not_delivered', () => {
    given([...placedAndPaid, shipped(), captured(3700)]).when(ask([{ sku: 'SKU-B', quantity: 1 }])).thenThrows(ConflictError, 'return.not_delivered');
  });

  it('authorises units collected at a pickup counter', () => {
    const pickup: PlacedOrder = { ...order, delivery: { method: 'pickup', locationId: 'store-1' } };
    given([{ type: 'OrderPlaced', data: pickup }, ...placedAndPaid.slice(1),
      { type: 'OrderReadyForPickup', data: { orderId: 'o-1', fulfilmentId: 'f-1', locationId: 'store-1', code: '123456', readyAt: at, expiresAt: SOON, at } },
      { type: 'OrderCollected', data: { orderId: 'o-1', fulfilmentId: 'f-1', locationId: 'store-1', lines: all, at: DELIVERED_AT } }])
      .when(ask([{ sku: 'SKU-B', quantity: 1 }])).then([authorized('r-1', [{ sku: 'SKU-B', quantity: 1, unitPrice: 500 }])]);
  });

  it('refuses units delivered longer ago than the window: return.window_closed', () => {
    given(deliveredOrder).when(ask([{ sku: 'SKU-B', quantity: 1 }], 'r-1', later(30.01))).thenThrows(ConflictError, 'return.window_closed');
    given(deliveredOrder).when(ask([{ sku: 'SKU-B', quantity: 1 }], 'r-1', later(29.99))).then([authorized('r-1', [{ sku: 'SKU-B', quantity: 1, unitPrice: 500 }], later(29.99))]);
  });

  it('counts the window from each shipment\'s delivery, earlier returns taking the units that arrived first', () => {
    const a1 = [{ sku: 'SKU-A', quantity: 1 }];
    const twoShipments = [...placedAndPaid, shipped(a1, 'f-1'), captured(1000, 'f-1'), delivered('f-1', DELIVERED_AT),
      shipped([{ sku: 'SKU-A', quantity: 2 }, { sku: 'SKU-B', quantity: 1 }], 'f-2'), captured(2700, 'f-2', 3700), delivered('f-2', later(20))];
    // 40 days on, only the second shipment's two units are within the window (priced, as every return, along the order's lines).
    given(twoShipments).when(ask([{ sku: 'SKU-A', quantity: 3 }], 'r-1', later(40))).thenThrows(ConflictError, 'return.window_closed');
    given(twoShipments).when(ask([{ sku: 'SKU-A', quantity: 2 }], 'r-1', later(40)))
      .then([authorized('r-1', [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000 }], later(40))]);
  });

  it('refuses an empty return, a fractional quantity and an exchange that names no replacement: 400', () => {
    given(deliveredOrder).when(ask([])).thenThrows(ValidationError, 'return.no_lines');
    given(deliveredOrder).when(ask([{ sku: 'SKU-B', quantity: 0.5 }])).thenThrows(ValidationError, 'return.invalid_quantity');
    const exchange = ask([{ sku: 'SKU-B', quantity: 1 }]);
    given(deliveredOrder).when({ ...exchange, data: { ...exchange.data, resolution: 'exchange' } }).thenThrows(ValidationError, 'return.no_exchange_lines');
  });
});

describe('order returns: the refund arithmetic', () => {
  const returnedAll = [...deliveredOrder, authorized('r-1', [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000 }, { sku: 'SKU-A', quantity: 1, unitPrice: 800 }, { sku: 'SKU-B', quantity: 1, unitPrice: 500 }])];

  it('refunds a receipt what its units were paid, without shipping while units of the order are still out', () => {
    given(returnedAll).when(refundFor('rc-1', [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000 }])).then([requested('rc-1', 2000, 2000, 0, 2)]);
  });

  it('refunds the shipping with the receipt that brings the order\'s last unit back', () => {
    given([...returnedAll, requested('rc-1', 2000, 2000, 0, 2)])
      .when(refundFor('rc-2', [{ sku: 'SKU-A', quantity: 1, unitPrice: 800 }, { sku: 'SKU-B', quantity: 1, unitPrice: 500 }]))
      .then([requested('rc-2', 1700, 1300, 400, 2)]);
  });

  it('refunds no shipping when the shipping rule says so', () => {
    given([...returnedAll, requested('rc-1', 2000, 2000, 0, 2)])
      .when(refundFor('rc-2', [{ sku: 'SKU-A', quantity: 1, unitPrice: 800 }, { sku: 'SKU-B', quantity: 1, unitPrice: 500 }], 'r-1', false))
      .then([requested('rc-2', 1300, 1300, 0, 2)]);
  });

  it('never refunds more than was captured, less what is refunded and what other refunds hold', () => {
    // 3700 captured, 1000 already refunded when the order was settled, 2000 held for a receipt the gateway has not paid yet.
    const history = [...returnedAll, { type: 'PaymentRefunded', data: { orderId: 'o-1', refundId: 'ref-0', amount: 1000, totalRefunded: 1000, at } } as OrderEvent,
      requested('rc-1', 2000, 2000, 0, 2)];
    given(history).when(refundFor('rc-2', [{ sku: 'SKU-A', quantity: 1, unitPrice: 800 }, { sku: 'SKU-B', quantity: 1, unitPrice: 500 }]))
      .then([requested('rc-2', 700, 1300, 400, 2)]);
  });

  it('waits, refusing for now, while what was handed over is not captured yet (its capture job retrying): refund.capture_pending', () => {
    const uncaptured = [...placedAndPaid, shipped(), delivered(),
      authorized('r-1', [{ sku: 'SKU-B', quantity: 1, unitPrice: 500 }])];
    given(uncaptured).when(refundFor('rc-1', [{ sku: 'SKU-B', quantity: 1, unitPrice: 500 }])).thenThrows(ConflictError, 'refund.capture_pending');
    given([...uncaptured.slice(0, -1), captured(3700), uncaptured[uncaptured.length - 1]]).when(refundFor('rc-1', [{ sku: 'SKU-B', quantity: 1, unitPrice: 500 }]))
      .then([requested('rc-1', 500, 500, 0, 1)]);
  });

  it('requests a receipt\'s refund once', () => {
    given([...returnedAll, requested('rc-1', 2000, 2000, 0, 2)]).when(refundFor('rc-1', [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000 }])).then([]);
  });

  it('owes nothing on an order not paid by card (the refund is settled outside the service)', () => {
    const cod: PlacedOrder = { ...order, payment: { method: 'cash_on_delivery' } };
    given([{ type: 'OrderPlaced', data: cod }, ...returnedAll.slice(1)]).when(refundFor('rc-1', [{ sku: 'SKU-A', quantity: 2, unitPrice: 1000 }]))
      .then([requested('rc-1', 0, 2000, 0, 2)]);
  });

  it('pays a requested refund exactly as reserved, once; refuses another amount or a second refund id', () => {
    const owed = [...returnedAll, requested('rc-1', 2000, 2000, 0, 2)];
    const pay = (refundId: string, amount: number) => ({ type: 'RecordPaymentRefund' as const, data: { orderId: 'o-1', refundId, amount, refundKey: 'rc-1' }, metadata: meta(SOON) });
    const paid: OrderEvent = { type: 'PaymentRefunded', data: { orderId: 'o-1', refundId: 'ref-1', amount: 2000, totalRefunded: 2000, refundKey: 'rc-1', at: SOON } };
    given(owed).when(pay('ref-1', 2000)).then([paid]);
    given(owed).when(pay('ref-1', 1999)).thenThrows(ConflictError, 'refund.amount_mismatch');
    given([...owed, paid]).when(pay('ref-1', 2000)).then([]);
    given([...owed, paid]).when(pay('ref-2', 2000)).thenThrows(ConflictError, 'refund.already_paid');
  });

  it('keeps a closed order\'s settlement from taking money reserved for a receipt', () => {
    const owed = [...returnedAll, requested('rc-1', 2000, 2000, 0, 2)];
    given(owed).when({ type: 'RecordPaymentRefund', data: { orderId: 'o-1', refundId: 'ref-x', amount: 3700 }, metadata: meta(SOON) })
      .thenThrows(ConflictError, 'payment.refund_exceeds_capture');
  });

  it('records each refusal of the gateway once, counted, so the retry asks under a new key', () => {
    const owed = [...returnedAll, requested('rc-1', 2000, 2000, 0, 2)];
    const refuse = (attempt: number) => ({ type: 'RecordRefundFailure' as const, data: { orderId: 'o-1', refundKey: 'rc-1', attempt, code: 'refund_refused', detail: 'no' }, metadata: meta(SOON) });
    const failed: OrderEvent = { type: 'OrderRefundFailed', data: { orderId: 'o-1', refundKey: 'rc-1', code: 'refund_refused', detail: 'no', at: SOON } };
    given(owed).when(refuse(0)).then([failed]);
    given([...owed, failed]).when(refuse(0)).then([]);
    given([...owed, failed]).when(refuse(1)).then([failed]);
    given(owed).when({ ...refuse(0), data: { ...refuse(0).data, refundKey: 'nope' } }).thenThrows(ConflictError, 'refund.not_found');
  });
});
