import { expect } from 'chai';
import { fold } from '../../write-side/decider.js';
import { orderDecider } from '../../write-side/orders/order.decider.js';
import type { OrderEvent, Payment, PlacedOrder } from '../../write-side/orders/order.events.js';
import type { PlacedState } from '../../write-side/orders/order.state.js';
import { captureForShipment, paymentStatus } from '../../write-side/orders/payment-ledger.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';
import { anOrder } from './order.decider.test.js';

const orderId = 'o-1';
const placedWith = (payment: Payment): OrderEvent => ({ type: 'OrderPlaced', data: { ...anOrder, payment, total: 4498, placedAt: NOW } satisfies PlacedOrder });
const card = placedWith({ method: 'card', token: 'tok_ok' });
const authorized: OrderEvent = { type: 'PaymentAuthorized', data: { orderId, authorizationId: 'auth-1', amount: 4498, currency: 'USD', at: NOW } };
const captured = (amount: number, totalCaptured = amount): OrderEvent => ({ type: 'PaymentCaptured', data: { orderId, captureId: `cap-${totalCaptured}`, amount, totalCaptured, at: NOW } });
const refunded = (amount: number, totalRefunded = amount): OrderEvent => ({ type: 'PaymentRefunded', data: { orderId, refundId: `ref-${totalRefunded}`, amount, totalRefunded, at: NOW } });

const statusAfter = (events: OrderEvent[]) => {
  const o = fold(orderDecider, events) as PlacedState;
  return paymentStatus(o.order.payment.method, o.payment);
};

describe('payment status', () => {
  it('is due on delivery for cash on delivery, and paid for a prepaid order, whatever the ledger', () => {
    expect(statusAfter([placedWith({ method: 'cash_on_delivery' })])).to.equal('due_on_delivery');
    expect(statusAfter([placedWith({ method: 'prepaid', reference: 'gift-1' })])).to.equal('paid');
  });

  it('follows a card payment through its ledger', () => {
    expect(statusAfter([card])).to.equal('pending');
    expect(statusAfter([card, authorized])).to.equal('authorized');
    expect(statusAfter([card, authorized, captured(1000)])).to.equal('partially_captured');
    expect(statusAfter([card, authorized, captured(4498)])).to.equal('captured');
    expect(statusAfter([card, authorized, captured(4498), refunded(1000)])).to.equal('partially_refunded');
    expect(statusAfter([card, authorized, captured(4498), refunded(4498)])).to.equal('refunded');
    expect(statusAfter([card, authorized, { type: 'PaymentVoided', data: { orderId, authorizationId: 'auth-1', at: NOW } }])).to.equal('voided');
    expect(statusAfter([card, { type: 'PaymentDeclined', data: { orderId, code: 'card_declined', detail: 'declined', at: NOW } }])).to.equal('declined');
  });
});

describe('capture per shipment', () => {
  const lines = (sku: string, quantity: number) => [{ sku, quantity }];
  const shipped = (fulfilmentId: string, l: { sku: string; quantity: number }[]): OrderEvent =>
    ({ type: 'OrderFulfilmentShipped', data: { orderId, fulfilmentId, locationId: `wh-${fulfilmentId}`, lines: l, at: NOW } });
  const authorizedFor = (amount: number): OrderEvent => ({ type: 'PaymentAuthorized', data: { orderId, authorizationId: 'auth-1', amount, currency: 'USD', at: NOW } });
  const shareCaptured = (fulfilmentId: string, amount: number, totalCaptured: number): OrderEvent =>
    ({ type: 'PaymentCaptured', data: { orderId, captureId: `cap-${fulfilmentId}`, amount, totalCaptured, fulfilmentId, at: NOW } });
  const released = (placedEvent: OrderEvent, amount: number): OrderEvent[] => [
    placedEvent,
    { type: 'FraudAssessed', data: { orderId, score: 0, decision: 'approve', reasons: [], at: NOW } },
    authorizedFor(amount),
    { type: 'OrderAllocated', data: { orderId, allocations: [], transfers: [], cost: 0, why: 'test', candidates: [], at: NOW } },
    { type: 'OrderReleased', data: { orderId, at: NOW } },
  ];
  /** What each fulfilment captures once all of them have shipped, in `shippedOrder`. */
  const capturesAfter = (history: OrderEvent[], shippedOrder: OrderEvent[]) => {
    const o = fold(orderDecider, [...history, ...shippedOrder]) as PlacedState;
    return shippedOrder.map((e) => captureForShipment(o, (e.data as { fulfilmentId: string }).fulfilmentId));
  };

  // anOrder: 2 x SKU-1 at 1999 and 1 x SKU-2 at 500, 4498 in all.
  it('captures each shipment\'s lines at the order\'s prices, the last one the rest, summing to the authorisation', () => {
    expect(capturesAfter(released(card, 4498), [shipped('f-1', lines('SKU-1', 2)), shipped('f-2', lines('SKU-2', 1))])).to.deep.equal([3998, 500]);
    expect(capturesAfter(released(card, 4498), [shipped('f-2', lines('SKU-2', 1)), shipped('f-1', lines('SKU-1', 2))])).to.deep.equal([500, 3998]);
  });

  it('prices a SKU on several lines along them, first line first, so the shares sum to the total in any order of shipping', () => {
    const placedEvent: OrderEvent = { type: 'OrderPlaced', data: { ...anOrder, lines: [
      { sku: 'A', quantity: 2, unitPrice: 1000 }, { sku: 'A', quantity: 1, unitPrice: 400 }, { sku: 'B', quantity: 3, unitPrice: 333 },
    ], total: 3399, placedAt: NOW } satisfies PlacedOrder };
    const [a1, a2, b1, b2] = [shipped('f-a1', lines('A', 1)), shipped('f-a2', lines('A', 2)), shipped('f-b1', lines('B', 1)), shipped('f-b2', lines('B', 2))];
    expect(capturesAfter(released(placedEvent, 3399), [a1, a2, b1, b2])).to.deep.equal([1000, 1400, 333, 666]);
    for (const order of [[b2, a2, b1, a1], [a2, b1, a1, b2], [b1, b2, a1, a2]]) {
      const amounts = capturesAfter(released(placedEvent, 3399), order);
      expect(amounts.reduce((n, a) => n + a, 0), order.map((e) => (e.data as { fulfilmentId: string }).fulfilmentId).join()).to.equal(3399);
    }
  });

  it('captures only its share while something is left to ship, and the rest of a larger authorisation once nothing is', () => {
    const o = (events: OrderEvent[]) => fold(orderDecider, [...released(card, 5000), ...events]) as PlacedState;
    expect(captureForShipment(o([shipped('f-1', lines('SKU-1', 2))]), 'f-1')).to.equal(3998);
    expect(captureForShipment(o([shipped('f-1', lines('SKU-1', 2)), shipped('f-2', lines('SKU-2', 1))]), 'f-2')).to.equal(1002);
    expect(captureForShipment(o([shipped('f-1', lines('SKU-1', 1)), shipped('f-2', lines('SKU-2', 1))]), 'f-2')).to.equal(500);
  });

  it('captures no more than its share while given-back lines wait for stock, and the rest once they are filled and ship', () => {
    const at = { locationId: 'wh-1', lines: [...lines('SKU-1', 2), ...lines('SKU-2', 1)] };
    const history: OrderEvent[] = [
      card,
      { type: 'FraudAssessed', data: { orderId, score: 0, decision: 'approve', reasons: [], at: NOW } },
      authorizedFor(5000),
      { type: 'OrderAllocated', data: { orderId, allocations: [at], transfers: [], cost: 0, why: 'test', candidates: [], at: NOW } },
      { type: 'OrderReleased', data: { orderId, at: NOW } },
      // wh-1 rejected its SKU-2: no other location has it.
      { type: 'OrderReallocated', data: {
        orderId, released: [{ locationId: 'wh-1', lines: lines('SKU-2', 1) }], allocations: [], transfers: [], allocationSeq: 1, cost: 0, why: 'backordered', candidates: [],
        cause: 'rejected', backordered: lines('SKU-2', 1), fulfilmentId: 'f-wh-1', causeEventId: 'e-1', at: NOW,
      } },
    ];
    const o = (events: OrderEvent[]) => fold(orderDecider, [...history, ...events]) as PlacedState;
    const first = shipped('f-1', lines('SKU-1', 2));
    expect(captureForShipment(o([first]), 'f-1'), 'not the rest of the 5000: SKU-2 has not shipped').to.equal(3998);
    const filled: OrderEvent = { type: 'OrderReallocated', data: {
      orderId, released: [], allocations: [{ locationId: 'wh-3', lines: lines('SKU-2', 1) }], transfers: [], allocationSeq: 2, cost: 1, why: 'stock arrived', candidates: [],
      cause: 'backorder', backordered: [], at: NOW,
    } };
    expect(captureForShipment(o([first, shareCaptured('f-1', 3998, 3998), filled, shipped('f-2', lines('SKU-2', 1))]), 'f-2')).to.equal(1002);
  });

  it('gives the same amounts whichever capture is recorded first', () => {
    const all = [...released(card, 4498), shipped('f-1', lines('SKU-1', 2)), shipped('f-2', lines('SKU-2', 1))];
    const lastFirst = fold(orderDecider, [...all, shareCaptured('f-2', 500, 500)]) as PlacedState;
    expect(captureForShipment(lastFirst, 'f-1')).to.equal(3998);
    expect(captureForShipment(lastFirst, 'f-2')).to.equal(0);
  });

  it('never captures more than is left of the authorisation', () => {
    const all = [shipped('f-1', lines('SKU-1', 2)), shipped('f-2', lines('SKU-2', 1))];
    const short = fold(orderDecider, [...released(card, 3000), ...all]) as PlacedState;
    expect(captureForShipment(short, 'f-1')).to.equal(3000);
    const afterFirst = fold(orderDecider, [...released(card, 3000), ...all, shareCaptured('f-1', 3000, 3000)]) as PlacedState;
    expect(captureForShipment(afterFirst, 'f-2')).to.equal(0);
    const capturedWhole = fold(orderDecider, [...released(card, 4498), captured(4498), ...all]) as PlacedState;
    expect(captureForShipment(capturedWhole, 'f-1')).to.equal(0);
  });

  it('captures nothing for an order not paid by card, a fulfilment that has not shipped, or a voided authorisation', () => {
    const cod = placedWith({ method: 'cash_on_delivery' });
    expect(capturesAfter(released(cod, 4498), [shipped('f-1', lines('SKU-1', 2))])).to.deep.equal([0]);
    const o = fold(orderDecider, [...released(card, 4498), shipped('f-1', lines('SKU-1', 2))]) as PlacedState;
    expect(captureForShipment(o, 'f-2')).to.equal(0);
    const voided = fold(orderDecider, [...released(card, 4498), { type: 'PaymentVoided', data: { orderId, authorizationId: 'auth-1', at: NOW } }, shipped('f-1', lines('SKU-1', 2))]) as PlacedState;
    expect(captureForShipment(voided, 'f-1')).to.equal(0);
  });

  it('captures a pickup order in full when it is collected', () => {
    const pickup: OrderEvent = { type: 'OrderPlaced', data: { ...anOrder, delivery: { method: 'pickup', locationId: 'store-1' }, total: 4498, placedAt: NOW } satisfies PlacedOrder };
    const all = [...lines('SKU-1', 2), ...lines('SKU-2', 1)];
    const o = fold(orderDecider, [
      ...released(pickup, 4498),
      { type: 'OrderReadyForPickup', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', code: '1234', readyAt: NOW, expiresAt: NOW, at: NOW } },
      { type: 'OrderCollected', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', lines: all, at: NOW } },
    ]) as PlacedState;
    expect(captureForShipment(o, 'f-s')).to.equal(4498);
  });

  it('records the fulfilment a capture is the share of', () => {
    const history = [...released(card, 4498), shipped('f-1', lines('SKU-1', 2))];
    specFor(orderDecider)(history).when({ type: 'RecordPaymentCapture', data: { orderId, captureId: 'cap-f-1', amount: 3998, fulfilmentId: 'f-1' }, metadata: meta() })
      .then([shareCaptured('f-1', 3998, 3998)]);
    expect((fold(orderDecider, [...history, shareCaptured('f-1', 3998, 3998)]) as PlacedState).payment.capturedShipments).to.deep.equal(['f-1']);
  });
});
