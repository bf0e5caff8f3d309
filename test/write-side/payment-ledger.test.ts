import { expect } from 'chai';
import { fold } from '../../write-side/decider.js';
import { orderDecider } from '../../write-side/orders/order.decider.js';
import type { OrderEvent, Payment, PlacedOrder } from '../../write-side/orders/order.events.js';
import type { PlacedState } from '../../write-side/orders/order.state.js';
import { paymentStatus } from '../../write-side/orders/payment-ledger.js';
import { NOW } from '../support/given-when-then.js';
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
