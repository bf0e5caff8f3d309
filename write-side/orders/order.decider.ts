import type { Command, Decider } from '../decider.js';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import type { FraudAssessment, OrderAllocation, OrderEvent, PlacedOrder, ReviewDecision, SkuQuantity, SourcingExplanation } from './order.events.js';
import { evolve, fraudApproved, initialState, isClosed, type Order, type PlacedState } from './order.state.js';
import { authorize, capture, decline, paymentSecured, refund, voidAuthorization, type PaymentCommand } from './payment-ledger.js';

export type PlaceOrderData = Omit<PlacedOrder, 'total' | 'placedAt'>;

export type OrderCommand =
  | Command<'PlaceOrder', PlaceOrderData>
  | Command<'CancelOrder', { orderId: string; reason: string }>
  | Command<'RecordFraudAssessment', FraudAssessment & { orderId: string }>
  | Command<'ReviewOrder', { orderId: string; decision: ReviewDecision; note?: string; reviewer: string }>
  | Command<'RecordAllocation', OrderAllocation & SourcingExplanation & { orderId: string; cost: number }>
  | Command<'RecordBackorder', SourcingExplanation & { orderId: string; missing: SkuQuantity[] }>
  | PaymentCommand;

export const orderStream = (orderId: string): string => `order-${orderId}`;

/** How one kind of command is decided on the order's state. */
type Decide<T extends OrderCommand['type']> = (command: Extract<OrderCommand, { type: T }>, state: Order) => OrderEvent[];

/** The lifecycle's release rule: an open order is released once approved, paid for (authorised) and fully allocated. */
function releaseIfReady(o: PlacedState, at: string): OrderEvent[] {
  if (isClosed(o) || o.released || !o.allocation || !fraudApproved(o) || !paymentSecured(o)) return [];
  return [{ type: 'OrderReleased', data: { orderId: o.order.orderId, at } }];
}

/** Decides `first`, then what the order's lifecycle makes of it (a release), in one append. */
function andThen(state: PlacedState, first: OrderEvent[], at: string): OrderEvent[] {
  const after = first.reduce((s, e) => evolve(s, e) as PlacedState, state);
  return [...first, ...releaseIfReady(after, at)];
}

function placed(state: Order, orderId: string): PlacedState {
  if (state.status === 'none') throw new NotFoundError('order.not_found', `Order ${orderId} does not exist`);
  return state;
}

const placeOrder: Decide<'PlaceOrder'> = (command, state) => {
  if (state.status !== 'none') return [];                            // the same channel order again
  const total = command.data.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
  return [{ type: 'OrderPlaced', data: { ...command.data, total, placedAt: command.metadata.now } }];
};

const cancelOrder: Decide<'CancelOrder'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  if (o.cancellation) return [];
  if (o.rejection) throw new ConflictError('order.rejected', `Order ${o.order.orderId} was already rejected (${o.rejection.cause})`);
  return [{ type: 'OrderCancelled', data: { orderId: o.order.orderId, reason: command.data.reason, at: command.metadata.now } }];
};

const recordFraudAssessment: Decide<'RecordFraudAssessment'> = (command, state) => {
  const at = command.metadata.now;
  const o = placed(state, command.data.orderId);
  if (o.fraud) return [];                                            // a retried scoring job
  const { score, decision, reasons } = command.data;
  const assessed: OrderEvent = { type: 'FraudAssessed', data: { orderId: o.order.orderId, score, decision, reasons, at } };
  if (isClosed(o)) return [assessed];
  if (decision === 'reject') {
    const detail = `fraud score ${score}: ${reasons.map((r) => r.code).join(', ')}`;
    return [assessed, { type: 'OrderRejected', data: { orderId: o.order.orderId, cause: 'fraud', detail, at } }];
  }
  if (decision === 'review') return [assessed, { type: 'OrderHeld', data: { orderId: o.order.orderId, reason: `fraud score ${score} needs a review`, at } }];
  return andThen(o, [assessed], at);
};

const reviewOrder: Decide<'ReviewOrder'> = (command, state) => {
  const at = command.metadata.now;
  const o = placed(state, command.data.orderId);
  const { decision, note, reviewer } = command.data;
  if (o.review?.decision === decision && o.review.reviewer === reviewer) return [];   // the same review again
  if (o.status !== 'on_hold') throw new ConflictError('order.not_on_hold', `Order ${o.order.orderId} is ${o.status}, not on fraud hold`);
  const reviewed: OrderEvent = { type: 'OrderReviewed', data: { orderId: o.order.orderId, decision, ...(note === undefined ? {} : { note }), reviewer, at } };
  if (decision === 'reject') {
    return [reviewed, { type: 'OrderRejected', data: { orderId: o.order.orderId, cause: 'review', detail: note ?? `rejected by ${reviewer}`, at } }];
  }
  return andThen(o, [reviewed], at);
};

const recordAllocation: Decide<'RecordAllocation'> = (command, state) => {
  const at = command.metadata.now;
  const o = placed(state, command.data.orderId);
  if (o.cancellation) throw new ConflictError('order.cancelled', 'The order was cancelled: its reservations must be released');
  if (o.rejection) throw new ConflictError('order.rejected', 'The order was rejected: its reservations must be released');
  if (o.allocation) return [];
  const { orderId, allocations, transfers, cost, why, candidates } = command.data;
  return andThen(o, [{ type: 'OrderAllocated', data: { orderId, allocations, transfers, cost, why, candidates, at } }], at);
};

const recordBackorder: Decide<'RecordBackorder'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  if (isClosed(o) || o.allocation || o.missing) return [];
  const { orderId, missing, why, candidates } = command.data;
  return [{ type: 'OrderBackordered', data: { orderId, missing, why, candidates, at: command.metadata.now } }];
};

const recordPaymentAuthorization: Decide<'RecordPaymentAuthorization'> = (command, state) => {
  const at = command.metadata.now;
  const o = placed(state, command.data.orderId);
  const authorized = authorize(o, command.data, at);
  // Recorded even on a closed order: the money is held, and settling it voids it.
  return authorized.length === 0 || isClosed(o) ? authorized : andThen(o, authorized, at);
};

const recordPaymentDecline: Decide<'RecordPaymentDecline'> = (command, state) => {
  const at = command.metadata.now;
  const o = placed(state, command.data.orderId);
  const declined = decline(o, command.data, at);
  if (declined.length === 0 || isClosed(o)) return declined;
  return [...declined, { type: 'OrderRejected', data: { orderId: o.order.orderId, cause: 'payment_declined', detail: command.data.detail, at } }];
};

const decisions: { [T in OrderCommand['type']]: Decide<T> } = {
  PlaceOrder: placeOrder,
  CancelOrder: cancelOrder,
  RecordFraudAssessment: recordFraudAssessment,
  ReviewOrder: reviewOrder,
  RecordAllocation: recordAllocation,
  RecordBackorder: recordBackorder,
  RecordPaymentAuthorization: recordPaymentAuthorization,
  RecordPaymentDecline: recordPaymentDecline,
  RecordPaymentCapture: (command, state) => capture(placed(state, command.data.orderId), command.data, command.metadata.now),
  RecordPaymentVoid: (command, state) => voidAuthorization(placed(state, command.data.orderId), command.data, command.metadata.now),
  RecordPaymentRefund: (command, state) => refund(placed(state, command.data.orderId), command.data, command.metadata.now),
};

export const orderDecider: Decider<Order, OrderCommand, OrderEvent> = {
  initialState,
  evolve,
  decide(command, state) {
    const decide = decisions[command.type] as Decide<OrderCommand['type']> | undefined;
    if (!decide) throw new Error(`Unhandled command ${command.type}`);
    return decide(command, state);
  },
};
