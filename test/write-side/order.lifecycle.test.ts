import { expect } from 'chai';
import { ConflictError } from '../../platform/errors.js';
import { fold } from '../../write-side/decider.js';
import { orderDecider } from '../../write-side/orders/order.decider.js';
import { paymentToSettle, type PlacedState } from '../../write-side/orders/order.state.js';
import type { OrderEvent, PlacedOrder } from '../../write-side/orders/order.events.js';
import { meta, NOW, specFor } from '../support/given-when-then.js';
import { anOrder } from './order.decider.test.js';

const given = specFor(orderDecider);
const placed: PlacedOrder = { ...anOrder, total: 4498, placedAt: NOW };
const orderId = 'o-1';

const ev = {
  placed: { type: 'OrderPlaced', data: placed } as OrderEvent,
  approved: { type: 'FraudAssessed', data: { orderId, score: 10, decision: 'approve', reasons: [], at: NOW } } as OrderEvent,
  toReview: { type: 'FraudAssessed', data: { orderId, score: 60, decision: 'review', reasons: [], at: NOW } } as OrderEvent,
  held: { type: 'OrderHeld', data: { orderId, reason: 'fraud score 60 needs a review', at: NOW } } as OrderEvent,
  authorized: { type: 'PaymentAuthorized', data: { orderId, authorizationId: 'auth-1', amount: 4498, currency: 'USD', at: NOW } } as OrderEvent,
  allocated: { type: 'OrderAllocated', data: { orderId, allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], transfers: [], cost: 1, why: 'cheapest', candidates: [], at: NOW } } as OrderEvent,
  released: { type: 'OrderReleased', data: { orderId, at: NOW } } as OrderEvent,
  cancelled: { type: 'OrderCancelled', data: { orderId, reason: 'changed my mind', at: NOW } } as OrderEvent,
  captured: (amount: number, totalCaptured = amount) => ({ type: 'PaymentCaptured', data: { orderId, captureId: `cap-${totalCaptured}`, amount, totalCaptured, at: NOW } }) as OrderEvent,
};
const state = (events: OrderEvent[]) => fold(orderDecider, events) as PlacedState;

describe('order lifecycle', () => {
  describe('release', () => {
    it('releases once approved, authorised and allocated, whichever comes last', () => {
      given([ev.placed, ev.approved, ev.authorized]).when({ type: 'RecordAllocation', data: { orderId, allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], transfers: [], cost: 1, why: 'cheapest', candidates: [] }, metadata: meta() })
        .then([ev.allocated, ev.released]);
      given([ev.placed, ev.allocated, ev.authorized]).when({ type: 'RecordFraudAssessment', data: { orderId, score: 10, decision: 'approve', reasons: [] }, metadata: meta() })
        .then([ev.approved, ev.released]);
      given([ev.placed, ev.allocated, ev.approved]).when({ type: 'RecordPaymentAuthorization', data: { orderId, authorizationId: 'auth-1', amount: 4498 }, metadata: meta() })
        .then([ev.authorized, ev.released]);
    });

    it('waits for the payment, the allocation and the fraud check', () => {
      given([ev.placed, ev.approved]).when({ type: 'RecordPaymentAuthorization', data: { orderId, authorizationId: 'auth-1', amount: 4498 }, metadata: meta() })
        .then([ev.authorized]);
      expect(state([ev.placed, ev.approved, ev.authorized]).status).to.equal('received');
      expect(state([ev.placed, ev.approved, ev.authorized, ev.allocated, ev.released]).status).to.equal('released');
    });

    it('needs no authorisation for cash on delivery', () => {
      const cod = { type: 'OrderPlaced', data: { ...placed, payment: { method: 'cash_on_delivery' } } } as OrderEvent;
      given([cod, ev.approved]).when({ type: 'RecordAllocation', data: { orderId, allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], transfers: [], cost: 1, why: 'cheapest', candidates: [] }, metadata: meta() })
        .then([ev.allocated, ev.released]);
    });
  });

  describe('rejection', () => {
    it('rejects on a payment decline', () => {
      given([ev.placed, ev.approved]).when({ type: 'RecordPaymentDecline', data: { orderId, code: 'card_declined', detail: 'The card was declined' }, metadata: meta() })
        .then([
          { type: 'PaymentDeclined', data: { orderId, code: 'card_declined', detail: 'The card was declined', at: NOW } },
          { type: 'OrderRejected', data: { orderId, cause: 'payment_declined', detail: 'The card was declined', at: NOW } },
        ]);
    });

    it('rejects on a fraud reject', () => {
      given([ev.placed]).when({ type: 'RecordFraudAssessment', data: { orderId, score: 90, decision: 'reject', reasons: [{ code: 'card_velocity_1h', points: 90, detail: 'x' }] }, metadata: meta() })
        .then([
          { type: 'FraudAssessed', data: { orderId, score: 90, decision: 'reject', reasons: [{ code: 'card_velocity_1h', points: 90, detail: 'x' }], at: NOW } },
          { type: 'OrderRejected', data: { orderId, cause: 'fraud', detail: 'fraud score 90: card_velocity_1h', at: NOW } },
        ]);
    });

    it('refuses an allocation for a rejected order, so its stock is released', () => {
      const rejected = { type: 'OrderRejected', data: { orderId, cause: 'fraud', detail: 'x', at: NOW } } as OrderEvent;
      given([ev.placed, rejected]).when({ type: 'RecordAllocation', data: { orderId, allocations: [], transfers: [], cost: 0, why: '', candidates: [] }, metadata: meta() })
        .thenThrows(ConflictError, 'order.rejected');
      given([ev.placed, rejected]).when({ type: 'CancelOrder', data: { orderId, reason: 'x' }, metadata: meta() }).thenThrows(ConflictError, 'order.rejected');
    });
  });

  describe('fraud review', () => {
    it('holds an order scored for review', () => {
      given([ev.placed]).when({ type: 'RecordFraudAssessment', data: { orderId, score: 60, decision: 'review', reasons: [] }, metadata: meta() })
        .then([ev.toReview, ev.held]);
      expect(state([ev.placed, ev.toReview, ev.held]).status).to.equal('on_hold');
    });

    it('releases an approved hold that is paid for and allocated', () => {
      given([ev.placed, ev.toReview, ev.held, ev.authorized, ev.allocated])
        .when({ type: 'ReviewOrder', data: { orderId, decision: 'approve', note: 'called the customer', reviewer: 'op-1' }, metadata: meta() })
        .then([{ type: 'OrderReviewed', data: { orderId, decision: 'approve', note: 'called the customer', reviewer: 'op-1', at: NOW } }, ev.released]);
    });

    it('rejects a hold the operator rejects', () => {
      given([ev.placed, ev.toReview, ev.held]).when({ type: 'ReviewOrder', data: { orderId, decision: 'reject', reviewer: 'op-1' }, metadata: meta() })
        .then([
          { type: 'OrderReviewed', data: { orderId, decision: 'reject', reviewer: 'op-1', at: NOW } },
          { type: 'OrderRejected', data: { orderId, cause: 'review', detail: 'rejected by op-1', at: NOW } },
        ]);
    });

    it('refuses a review of an order not on hold: 409', () => {
      given([ev.placed, ev.approved]).when({ type: 'ReviewOrder', data: { orderId, decision: 'approve', reviewer: 'op-1' }, metadata: meta() })
        .thenThrows(ConflictError, 'order.not_on_hold');
    });
  });

  describe('the payment ledger', () => {
    it('never captures more than was authorised', () => {
      given([ev.placed, ev.authorized, ev.captured(4000)]).when({ type: 'RecordPaymentCapture', data: { orderId, captureId: 'cap-2', amount: 499 }, metadata: meta() })
        .thenThrows(ConflictError, 'payment.capture_exceeds_authorization');
      given([ev.placed, ev.authorized, ev.captured(4000)]).when({ type: 'RecordPaymentCapture', data: { orderId, captureId: 'cap-2', amount: 498 }, metadata: meta() })
        .then([{ type: 'PaymentCaptured', data: { orderId, captureId: 'cap-2', amount: 498, totalCaptured: 4498, at: NOW } }]);
    });

    it('never refunds more than was captured, and records a refund once', () => {
      given([ev.placed, ev.authorized, ev.captured(1000)]).when({ type: 'RecordPaymentRefund', data: { orderId, refundId: 'ref-1', amount: 1001 }, metadata: meta() })
        .thenThrows(ConflictError, 'payment.refund_exceeds_capture');
      const refunded = { type: 'PaymentRefunded', data: { orderId, refundId: 'ref-1', amount: 1000, totalRefunded: 1000, at: NOW } } as OrderEvent;
      given([ev.placed, ev.authorized, ev.captured(1000)]).when({ type: 'RecordPaymentRefund', data: { orderId, refundId: 'ref-1', amount: 1000 }, metadata: meta() }).then([refunded]);
      given([ev.placed, ev.authorized, ev.captured(1000), refunded]).when({ type: 'RecordPaymentRefund', data: { orderId, refundId: 'ref-1', amount: 1000 }, metadata: meta() }).then([]);
    });

    it('records an authorisation once, even from a retried job', () => {
      given([ev.placed, ev.authorized]).when({ type: 'RecordPaymentAuthorization', data: { orderId, authorizationId: 'auth-1', amount: 4498 }, metadata: meta() }).then([]);
      given([ev.placed, ev.authorized]).when({ type: 'RecordPaymentAuthorization', data: { orderId, authorizationId: 'auth-2', amount: 4498 }, metadata: meta() })
        .thenThrows(ConflictError, 'payment.already_authorized');
    });

    it('voids a cancelled order that was only authorised, and refunds one that was captured', () => {
      expect(paymentToSettle(state([ev.placed, ev.authorized, ev.cancelled]))).to.deep.equal({ void: 'auth-1', refund: 0 });
      expect(paymentToSettle(state([ev.placed, ev.authorized, ev.captured(4498), ev.cancelled]))).to.deep.equal({ void: null, refund: 4498 });
      expect(paymentToSettle(state([ev.placed, ev.authorized, ev.released]))).to.deep.equal({ void: null, refund: 0 });
    });
  });
});
