import type {
  FraudAssessment, FraudDecision, OrderAllocation, OrderEvent, PlacedOrder, Reallocation, RejectionCause, ReviewDecision, SkuQuantity,
} from './order.events.js';
import { evolveLedger, heldAtGateway, NO_PAYMENT, type PaymentLedger } from './payment-ledger.js';
import { evolveReturns, NO_RETURNS, pendingRefunds, type ReturnsRecord } from './order-returns.js';
import { evolveProgress, handedOverUnits, NO_PROGRESS, progressFacts, type Progress, type ProgressFacts } from './order-progress.js';

// An order's state, folded from its events, and what follows from it.

/** Every status an order can be in. */
export const ORDER_STATUSES = [
  'received', 'on_hold', 'backordered', 'released', 'ready_for_pickup', 'partially_shipped', 'shipped', 'delivered', 'collected', 'cancelled', 'rejected',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The facts an order's status follows from: the order's state and the orders read model both hold them. */
export interface StatusFacts extends ProgressFacts {
  cancelled: boolean;
  rejected: boolean;
  released: boolean;
  /** The fraud check's decision, once made. */
  fraudDecision: FraudDecision | null;
  /** An operator has reviewed the order. */
  reviewed: boolean;
  /** Some lines could not be filled anywhere when the order was first sourced, and it has not been allocated since. */
  backordered: boolean;
}

/**
 * The order's status, the one rule for it: closed first; then, once every unit has shipped or
 * been collected, collected (some at a counter), delivered (every shipment) or shipped; some of
 * them, partially shipped; ready for pickup; then released, or backordered again if all it has
 * left waits for stock after locations gave it back; on fraud hold (scoring asked for a review
 * nobody has made yet), backordered, received.
 */
export function statusOf(f: StatusFacts): OrderStatus {
  if (f.cancelled) return 'cancelled';
  if (f.rejected) return 'rejected';
  if (f.handedOver === 'all') return f.collected ? 'collected' : f.delivered ? 'delivered' : 'shipped';
  if (f.handedOver === 'part') return 'partially_shipped';
  if (f.readyForPickup) return 'ready_for_pickup';
  if (f.released) return f.awaitingStock ? 'backordered' : 'released';
  if (f.fraudDecision === 'review' && !f.reviewed) return 'on_hold';
  if (f.backordered) return 'backordered';
  return 'received';
}

export interface PlacedState {
  status: OrderStatus;
  order: PlacedOrder;
  fraud: FraudAssessment | null;
  review: { decision: ReviewDecision; note?: string; reviewer: string; at: string } | null;
  /** The first allocation, as recorded; where the units are now is in `progress.allocations`. */
  allocation: OrderAllocation | null;
  /** Lines no location could fill when the order was backordered; null once allocated. */
  missing: SkuQuantity[] | null;
  payment: PaymentLedger;
  released: boolean;
  cancellation: { reason: string; at: string } | null;
  rejection: { cause: RejectionCause; detail: string; at: string } | null;
  progress: Progress;
  /** The fulfilments that shipped or were collected, in the order they did. */
  handovers: string[];
  /** Every re-allocation recorded, in order. */
  reallocations: Reallocation[];
  /** The units customers are sending back, and the refunds owed for them. */
  returns: ReturnsRecord;
  /** The transfer fulfilments that sent units to the pickup store, and whether they arrived. */
  transfers: { fulfilmentId: string; received: boolean }[];
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

/** Something has shipped or been collected: the order can no longer be cancelled. */
export const hasHandedOver = (o: PlacedState): boolean => handedOverUnits(o.progress).size > 0;

/** What a closed order still holds at the gateway: an authorisation to void, or captured money to refund. */
export function paymentToSettle(o: PlacedState): { void: string | null; refund: number } {
  return isClosed(o) ? heldAtGateway(o.payment, pendingRefunds(o.returns)) : { void: null, refund: 0 };
}

function statusFacts(o: Omit<PlacedState, 'status'>): StatusFacts {
  return {
    cancelled: o.cancellation !== null, rejected: o.rejection !== null, released: o.released, fraudDecision: o.fraud?.decision ?? null,
    reviewed: o.review !== null, backordered: o.missing !== null && o.allocation === null, ...progressFacts(o.order.lines, o.progress),
  };
}

function withFacts(o: Omit<PlacedState, 'status'>, change: Partial<Omit<PlacedState, 'status'>> = {}): PlacedState {
  const next = { ...o, ...change };
  return { ...next, status: statusOf(statusFacts(next)) };
}

export function evolve(state: Order, event: OrderEvent): Order {
  if (event.type === 'OrderPlaced') {
    return withFacts({
      order: event.data, fraud: null, review: null, allocation: null, missing: null, payment: NO_PAYMENT, released: false, cancellation: null, rejection: null,
      progress: NO_PROGRESS, handovers: [], reallocations: [], returns: NO_RETURNS, transfers: [],
    });
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'OrderCancelled':
      return withFacts(state, { cancellation: { reason: event.data.reason, at: event.data.at }, progress: evolveProgress(state.progress, event) });
    case 'OrderAllocated': {
      const { allocations, transfers } = event.data;
      return withFacts(state, { allocation: { allocations, transfers }, missing: null, progress: evolveProgress(state.progress, event) });
    }
    case 'OrderReallocated': {
      if (state.reallocations.some((r) => r.allocationSeq === event.data.allocationSeq)) return state;
      const { at: _at, ...reallocation } = event.data;
      return withFacts(state, { progress: evolveProgress(state.progress, event), reallocations: [...state.reallocations, reallocation] });
    }
    case 'OrderFulfilmentDelivered':
    case 'OrderReadyForPickup':
      return withFacts(state, { progress: evolveProgress(state.progress, event) });
    case 'OrderFulfilmentShipped':
    case 'OrderCollected':
      if (state.handovers.includes(event.data.fulfilmentId)) return state;
      return withFacts(state, { progress: evolveProgress(state.progress, event), handovers: [...state.handovers, event.data.fulfilmentId] });
    case 'OrderTransferShipped':
      if (state.transfers.some((t) => t.fulfilmentId === event.data.fulfilmentId)) return state;
      return withFacts(state, { progress: evolveProgress(state.progress, event), transfers: [...state.transfers, { fulfilmentId: event.data.fulfilmentId, received: false }] });
    case 'OrderTransferReceived': {
      const { fulfilmentId } = event.data;
      if (!state.transfers.some((t) => t.fulfilmentId === fulfilmentId && !t.received)) return state;
      return withFacts(state, {
        progress: evolveProgress(state.progress, event), transfers: state.transfers.map((t) => (t.fulfilmentId === fulfilmentId ? { ...t, received: true } : t)),
      });
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
      return withFacts(state, { rejection: { cause: event.data.cause, detail: event.data.detail, at: event.data.at }, progress: evolveProgress(state.progress, event) });
    case 'PaymentAuthorized':
    case 'PaymentDeclined':
    case 'PaymentCaptured':
    case 'PaymentVoided':
    case 'PaymentRefunded':
      return withFacts(state, { payment: evolveLedger(state.payment, event), returns: evolveReturns(state.returns, event) });
    case 'OrderReturnAuthorized':
    case 'OrderRefundRequested':
    case 'OrderRefundFailed':
      return { ...state, returns: evolveReturns(state.returns, event) };
    default: {
      const unknown: never = event;
      void unknown;
      return state;
    }
  }
}
