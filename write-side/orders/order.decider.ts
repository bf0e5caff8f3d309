import type { Command, Decider } from '../decider.js';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import type {
  FraudAssessment, OrderAllocation, OrderEvent, PlacedOrder, RejectionCause, ReviewDecision, SkuQuantity, SourcingExplanation,
} from './order.events.js';

export type PlaceOrderData = Omit<PlacedOrder, 'total' | 'placedAt'>;

export type OrderCommand =
  | Command<'PlaceOrder', PlaceOrderData>
  | Command<'CancelOrder', { orderId: string; reason: string }>
  | Command<'RecordFraudAssessment', FraudAssessment & { orderId: string }>
  | Command<'ReviewOrder', { orderId: string; decision: ReviewDecision; note?: string; reviewer: string }>
  | Command<'RecordAllocation', OrderAllocation & SourcingExplanation & { orderId: string; cost: number }>
  | Command<'RecordBackorder', SourcingExplanation & { orderId: string; missing: SkuQuantity[] }>
  | Command<'RecordPaymentAuthorization', { orderId: string; authorizationId: string; amount: number }>
  | Command<'RecordPaymentDecline', { orderId: string; code: string; detail: string }>
  | Command<'RecordPaymentCapture', { orderId: string; captureId: string; amount: number }>
  | Command<'RecordPaymentVoid', { orderId: string; authorizationId: string }>
  | Command<'RecordPaymentRefund', { orderId: string; refundId: string; amount: number }>;

/** The order's payment ledger, in minor units of the order's currency. */
export interface PaymentLedger {
  authorizationId: string | null;
  authorized: number;
  captured: number;
  refunded: number;
  voided: boolean;
  declined: { code: string; detail: string } | null;
  /** Captures and refunds already recorded, by their gateway ids: a retried job records nothing twice. */
  seen: string[];
}

export type OrderStatus = 'received' | 'on_hold' | 'backordered' | 'released' | 'cancelled' | 'rejected';

export interface PlacedState {
  status: OrderStatus;
  order: PlacedOrder;
  fraud: FraudAssessment | null;
  review: { decision: ReviewDecision; note?: string; reviewer: string; at: string } | null;
  allocation: OrderAllocation | null;
  /** Lines no location could fill when the order was backordered; null once allocated. */
  missing: SkuQuantity[] | null;
  payment: PaymentLedger;
  released: boolean;
  cancellation: { reason: string; at: string } | null;
  rejection: { cause: RejectionCause; detail: string; at: string } | null;
}

export type Order = { status: 'none' } | PlacedState;

export const orderStream = (orderId: string): string => `order-${orderId}`;

const NO_PAYMENT: PaymentLedger = { authorizationId: null, authorized: 0, captured: 0, refunded: 0, voided: false, declined: null, seen: [] };

/** Cancelled or rejected: nothing more happens to the order but settling what it held. */
export const isClosed = (o: PlacedState): boolean => o.cancellation !== null || o.rejection !== null;

/** Whether the order's payment is good for release: authorised in full, or not taken by card. */
export function paymentSecured(o: PlacedState): boolean {
  if (o.order.payment.method !== 'card') return true;
  return o.payment.authorizationId !== null && !o.payment.voided && o.payment.authorized >= o.order.total;
}

/** Approved by scoring, or by an operator after a hold. */
export function fraudApproved(o: PlacedState): boolean {
  if (o.review) return o.review.decision === 'approve';
  return o.fraud?.decision === 'approve';
}

/** What the status is, from the facts: closed first, then released, held, backordered, received. */
function statusOf(o: Omit<PlacedState, 'status'>): OrderStatus {
  if (o.cancellation) return 'cancelled';
  if (o.rejection) return 'rejected';
  if (o.released) return 'released';
  if (o.fraud?.decision === 'review' && !o.review) return 'on_hold';
  if (o.missing && !o.allocation) return 'backordered';
  return 'received';
}

function withFacts(o: PlacedState, change: Partial<Omit<PlacedState, 'status'>>): PlacedState {
  const next = { ...o, ...change };
  return { ...next, status: statusOf(next) };
}

/** The lifecycle's release rule: an open order is released once approved, paid for (authorised) and fully allocated. */
function releaseIfReady(o: PlacedState, at: string): OrderEvent[] {
  if (isClosed(o) || o.released || !o.allocation || !fraudApproved(o) || !paymentSecured(o)) return [];
  return [{ type: 'OrderReleased', data: { orderId: o.order.orderId, at } }];
}

/** Decides `first`, then what the order's lifecycle makes of it (a release), in one append. */
function andThen(state: PlacedState, first: OrderEvent[], at: string): OrderEvent[] {
  const after = first.reduce((s, e) => orderDecider.evolve(s, e) as PlacedState, state);
  return [...first, ...releaseIfReady(after, at)];
}

function placed(state: Order, orderId: string): PlacedState {
  if (state.status === 'none') throw new NotFoundError('order.not_found', `Order ${orderId} does not exist`);
  return state;
}

export const orderDecider: Decider<Order, OrderCommand, OrderEvent> = {
  initialState: { status: 'none' },

  evolve(state, event) {
    if (event.type === 'OrderPlaced') {
      return {
        status: 'received', order: event.data, fraud: null, review: null, allocation: null, missing: null, payment: NO_PAYMENT,
        released: false, cancellation: null, rejection: null,
      };
    }
    if (state.status === 'none') return state;
    const p = state.payment;
    switch (event.type) {
      case 'OrderCancelled':
        return withFacts(state, { cancellation: { reason: event.data.reason, at: event.data.at } });
      case 'OrderAllocated': {
        const { allocations, transfers } = event.data;
        return withFacts(state, { allocation: { allocations, transfers }, missing: null });
      }
      case 'OrderBackordered':
        return withFacts(state, { allocation: null, missing: event.data.missing });
      case 'FraudAssessed': {
        const { score, decision, reasons } = event.data;
        return withFacts(state, { fraud: { score, decision, reasons } });
      }
      case 'OrderHeld':
        return state;                                                  // the hold follows from the assessment
      case 'OrderReviewed': {
        const { decision, note, reviewer, at } = event.data;
        return withFacts(state, { review: { decision, ...(note === undefined ? {} : { note }), reviewer, at } });
      }
      case 'OrderReleased':
        return withFacts(state, { released: true });
      case 'OrderRejected':
        return withFacts(state, { rejection: { cause: event.data.cause, detail: event.data.detail, at: event.data.at } });
      case 'PaymentAuthorized':
        return withFacts(state, { payment: { ...p, authorizationId: event.data.authorizationId, authorized: event.data.amount } });
      case 'PaymentDeclined':
        return withFacts(state, { payment: { ...p, declined: { code: event.data.code, detail: event.data.detail } } });
      case 'PaymentCaptured':
        return withFacts(state, { payment: { ...p, captured: event.data.totalCaptured, seen: [...p.seen, event.data.captureId] } });
      case 'PaymentVoided':
        return withFacts(state, { payment: { ...p, voided: true } });
      case 'PaymentRefunded':
        return withFacts(state, { payment: { ...p, refunded: event.data.totalRefunded, seen: [...p.seen, event.data.refundId] } });
      default: {
        const unknown: never = event;
        void unknown;
        return state;
      }
    }
  },

  decide(command, state) {
    const at = command.metadata.now;
    switch (command.type) {
      case 'PlaceOrder': {
        if (state.status !== 'none') return [];                      // the same channel order again
        const total = command.data.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
        return [{ type: 'OrderPlaced', data: { ...command.data, total, placedAt: at } }];
      }
      case 'CancelOrder': {
        const o = placed(state, command.data.orderId);
        if (o.cancellation) return [];
        if (o.rejection) throw new ConflictError('order.rejected', `Order ${o.order.orderId} was already rejected (${o.rejection.cause})`);
        return [{ type: 'OrderCancelled', data: { orderId: o.order.orderId, reason: command.data.reason, at } }];
      }
      case 'RecordFraudAssessment': {
        const o = placed(state, command.data.orderId);
        if (o.fraud) return [];                                      // a retried scoring job
        const { score, decision, reasons } = command.data;
        const assessed: OrderEvent = { type: 'FraudAssessed', data: { orderId: o.order.orderId, score, decision, reasons, at } };
        if (isClosed(o)) return [assessed];
        if (decision === 'reject') {
          const detail = `fraud score ${score}: ${reasons.map((r) => r.code).join(', ')}`;
          return [assessed, { type: 'OrderRejected', data: { orderId: o.order.orderId, cause: 'fraud', detail, at } }];
        }
        if (decision === 'review') return [assessed, { type: 'OrderHeld', data: { orderId: o.order.orderId, reason: `fraud score ${score} needs a review`, at } }];
        return andThen(o, [assessed], at);
      }
      case 'ReviewOrder': {
        const o = placed(state, command.data.orderId);
        const { decision, note, reviewer } = command.data;
        if (o.review?.decision === decision && o.review.reviewer === reviewer) return [];   // the same review again
        if (o.status !== 'on_hold') throw new ConflictError('order.not_on_hold', `Order ${o.order.orderId} is ${o.status}, not on fraud hold`);
        const reviewed: OrderEvent = { type: 'OrderReviewed', data: { orderId: o.order.orderId, decision, ...(note === undefined ? {} : { note }), reviewer, at } };
        if (decision === 'reject') {
          return [reviewed, { type: 'OrderRejected', data: { orderId: o.order.orderId, cause: 'review', detail: note ?? `rejected by ${reviewer}`, at } }];
        }
        return andThen(o, [reviewed], at);
      }
      case 'RecordAllocation': {
        const o = placed(state, command.data.orderId);
        if (o.cancellation) throw new ConflictError('order.cancelled', 'The order was cancelled: its reservations must be released');
        if (o.rejection) throw new ConflictError('order.rejected', 'The order was rejected: its reservations must be released');
        if (o.allocation) return [];
        const { orderId, allocations, transfers, cost, why, candidates } = command.data;
        return andThen(o, [{ type: 'OrderAllocated', data: { orderId, allocations, transfers, cost, why, candidates, at } }], at);
      }
      case 'RecordBackorder': {
        const o = placed(state, command.data.orderId);
        if (isClosed(o) || o.allocation || o.missing) return [];
        const { orderId, missing, why, candidates } = command.data;
        return [{ type: 'OrderBackordered', data: { orderId, missing, why, candidates, at } }];
      }
      case 'RecordPaymentAuthorization': {
        const o = placed(state, command.data.orderId);
        const { authorizationId, amount } = command.data;
        if (o.payment.authorizationId === authorizationId) return [];   // a retried job
        if (o.payment.authorizationId) throw new ConflictError('payment.already_authorized', `Order ${o.order.orderId} already holds authorisation ${o.payment.authorizationId}`);
        if (o.payment.declined) throw new ConflictError('payment.declined', `The payment of order ${o.order.orderId} was declined`);
        // Recorded even on a closed order: the money is held, and settling it voids it.
        const authorized: OrderEvent = { type: 'PaymentAuthorized', data: { orderId: o.order.orderId, authorizationId, amount, currency: o.order.currency, at } };
        return isClosed(o) ? [authorized] : andThen(o, [authorized], at);
      }
      case 'RecordPaymentDecline': {
        const o = placed(state, command.data.orderId);
        if (o.payment.declined) return [];
        if (o.payment.authorizationId) throw new ConflictError('payment.already_authorized', `Order ${o.order.orderId} is already authorised`);
        const declined: OrderEvent = { type: 'PaymentDeclined', data: { orderId: o.order.orderId, code: command.data.code, detail: command.data.detail, at } };
        if (isClosed(o)) return [declined];
        return [declined, { type: 'OrderRejected', data: { orderId: o.order.orderId, cause: 'payment_declined', detail: command.data.detail, at } }];
      }
      case 'RecordPaymentCapture': {
        const o = placed(state, command.data.orderId);
        const { captureId, amount } = command.data;
        if (o.payment.seen.includes(captureId)) return [];
        if (!o.payment.authorizationId || o.payment.voided) throw new ConflictError('payment.not_authorized', `Order ${o.order.orderId} holds no authorisation to capture`);
        if (amount <= 0 || o.payment.captured + amount > o.payment.authorized) {
          throw new ConflictError('payment.capture_exceeds_authorization', `Capturing ${amount} would exceed the ${o.payment.authorized} authorised (${o.payment.captured} captured)`);
        }
        return [{ type: 'PaymentCaptured', data: { orderId: o.order.orderId, captureId, amount, totalCaptured: o.payment.captured + amount, at } }];
      }
      case 'RecordPaymentVoid': {
        const o = placed(state, command.data.orderId);
        if (o.payment.voided) return [];
        if (o.payment.authorizationId !== command.data.authorizationId) throw new ConflictError('payment.not_authorized', `Order ${o.order.orderId} does not hold authorisation ${command.data.authorizationId}`);
        if (o.payment.captured > 0) throw new ConflictError('payment.already_captured', `Order ${o.order.orderId} has captured ${o.payment.captured}: refund instead`);
        return [{ type: 'PaymentVoided', data: { orderId: o.order.orderId, authorizationId: command.data.authorizationId, at } }];
      }
      case 'RecordPaymentRefund': {
        const o = placed(state, command.data.orderId);
        const { refundId, amount } = command.data;
        if (o.payment.seen.includes(refundId)) return [];
        if (amount <= 0 || o.payment.refunded + amount > o.payment.captured) {
          throw new ConflictError('payment.refund_exceeds_capture', `Refunding ${amount} would exceed the ${o.payment.captured} captured (${o.payment.refunded} refunded)`);
        }
        return [{ type: 'PaymentRefunded', data: { orderId: o.order.orderId, refundId, amount, totalRefunded: o.payment.refunded + amount, at } }];
      }
      default: {
        const unknown: never = command;
        throw new Error(`Unhandled command ${(unknown as OrderCommand).type}`);
      }
    }
  },
};

/** What a closed order still holds at the gateway: an authorisation to void, or captured money to refund. */
export function paymentToSettle(o: PlacedState): { void: string | null; refund: number } {
  const p = o.payment;
  if (!isClosed(o) || !p.authorizationId) return { void: null, refund: 0 };
  return { void: p.captured === 0 && !p.voided ? p.authorizationId : null, refund: p.captured - p.refunded };
}
