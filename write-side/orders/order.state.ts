import type {
  FraudAssessment, OrderAllocation, OrderEvent, PlacedOrder, RejectionCause, ReviewDecision, SkuQuantity,
} from './order.events.js';
import { evolveLedger, heldAtGateway, NO_PAYMENT, type PaymentLedger } from './payment-ledger.js';

// An order's state, folded from its events, and what follows from it.

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

export const initialState: Order = { status: 'none' };

/** Cancelled or rejected: nothing more happens to the order but settling what it held. */
export const isClosed = (o: PlacedState): boolean => o.cancellation !== null || o.rejection !== null;

/** Approved by scoring, or by an operator after a hold. */
export function fraudApproved(o: PlacedState): boolean {
  if (o.review) return o.review.decision === 'approve';
  return o.fraud?.decision === 'approve';
}

/** What a closed order still holds at the gateway: an authorisation to void, or captured money to refund. */
export function paymentToSettle(o: PlacedState): { void: string | null; refund: number } {
  return isClosed(o) ? heldAtGateway(o.payment) : { void: null, refund: 0 };
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

export function evolve(state: Order, event: OrderEvent): Order {
  if (event.type === 'OrderPlaced') {
    return {
      status: 'received', order: event.data, fraud: null, review: null, allocation: null, missing: null, payment: NO_PAYMENT,
      released: false, cancellation: null, rejection: null,
    };
  }
  if (state.status === 'none') return state;
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
    case 'PaymentDeclined':
    case 'PaymentCaptured':
    case 'PaymentVoided':
    case 'PaymentRefunded':
      return withFacts(state, { payment: evolveLedger(state.payment, event) });
    default: {
      const unknown: never = event;
      void unknown;
      return state;
    }
  }
}
