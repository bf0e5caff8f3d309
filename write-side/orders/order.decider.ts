import type { Command, Decider } from '../decider.js';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors.js';
import type {
  FraudAssessment, OrderAllocation, OrderEvent, PlacedOrder, Reallocation, ReviewDecision, SkuQuantity, SourcingExplanation, TransferLeg,
} from './order.events.js';
import { evolve, fraudApproved, hasHandedOver, initialState, isClosed, type Order, type PlacedState } from './order.state.js';
import { handedOverUnits, lastAllocationSeq, reservedAt, unitsBySku, waitingForStock } from './order-progress.js';
import { givenBack } from '../sourcing/reallocation.js';
import { authorize, capture, decline, paymentSecured, refund, voidAuthorization, type PaymentCommand } from './payment-ledger.js';
import { authorizeReturn, pendingRefunds, recordRefundFailure, requestRefund, type ReturnCommand } from './order-returns.js';

export type PlaceOrderData = Omit<PlacedOrder, 'total' | 'placedAt'>;

export type OrderCommand =
  | Command<'PlaceOrder', PlaceOrderData>
  | Command<'CancelOrder', { orderId: string; reason: string }>
  | Command<'RecordFraudAssessment', FraudAssessment & { orderId: string }>
  | Command<'ReviewOrder', { orderId: string; decision: ReviewDecision; note?: string; reviewer: string }>
  | Command<'RecordAllocation', OrderAllocation & SourcingExplanation & { orderId: string; cost: number }>
  | Command<'RecordBackorder', SourcingExplanation & { orderId: string; missing: SkuQuantity[] }>
  | Command<'RecordReallocation', Reallocation>
  | Command<'RecordFulfilmentShipped', { orderId: string; fulfilmentId: string; locationId: string; lines: SkuQuantity[] }>
  | Command<'RecordFulfilmentDelivered', { orderId: string; fulfilmentId: string }>
  | Command<'RecordReadyForPickup', { orderId: string; fulfilmentId: string; locationId: string; code: string; readyAt: string; expiresAt: string }>
  | Command<'RecordCollection', { orderId: string; fulfilmentId: string; lines: SkuQuantity[] }>
  | Command<'RecordTransferShipped', TransferLeg>
  | Command<'RecordTransferReceived', TransferLeg>
  | PaymentCommand
  | ReturnCommand;

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
  const total = command.data.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0) + (command.data.shippingPrice ?? 0);
  return [{ type: 'OrderPlaced', data: { ...command.data, total, placedAt: command.metadata.now } }];
};

const cancelOrder: Decide<'CancelOrder'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  if (o.cancellation) return [];
  if (o.rejection) throw new ConflictError('order.rejected', `Order ${o.order.orderId} was already rejected (${o.rejection.cause})`);
  if (hasHandedOver(o)) throw new ConflictError('order.already_shipped', `Part of order ${o.order.orderId} has shipped or been collected`);
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

// What the order's fulfilments did: recorded whatever has become of the order since (the units
// have left, or wait at the counter), each fact once.

/** Lines of whole, positive quantities. */
function checkLines(lines: SkuQuantity[], what: string): void {
  if (lines.length === 0 || lines.some((l) => !Number.isInteger(l.quantity) || l.quantity <= 0)) {
    throw new ValidationError('order.invalid_lines', `${what} needs lines of whole, positive quantities`);
  }
}

function mustBeReleased(o: PlacedState): void {
  if (!o.released) throw new ConflictError('order.not_released', `Order ${o.order.orderId} has not been released to fulfilment`);
}

/** No more units of a SKU are shipped and collected than the order has. */
function withinOrdered(o: PlacedState, lines: SkuQuantity[]): void {
  const handed = handedOverUnits(o.progress);
  const ordered = new Map(unitsBySku(o.order.lines).map((l) => [l.sku, l.quantity]));
  for (const l of unitsBySku(lines)) {
    const after = (handed.get(l.sku) ?? 0) + l.quantity;
    const has = ordered.get(l.sku) ?? 0;
    if (after > has) throw new ConflictError('order.more_than_ordered', `That would hand over ${after} units of ${l.sku}; order ${o.order.orderId} has ${has}`);
  }
}

/** The same re-allocation is recorded already: the same give-back event's, or a backorder's under its number. */
function alreadyReallocated(o: PlacedState, r: Reallocation): boolean {
  return o.reallocations.some((x) => (r.cause === 'backorder'
    ? x.cause === 'backorder' && x.allocationSeq === r.allocationSeq
    : x.causeEventId !== undefined && x.causeEventId === r.causeEventId));
}

const units = (lines: SkuQuantity[]) => JSON.stringify(unitsBySku(lines).sort((a, b) => a.sku.localeCompare(b.sku)));

const recordReallocation: Decide<'RecordReallocation'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  const r = command.data;
  const { orderId, released, allocations, transfers, allocationSeq, cost, why, candidates, cause, backordered, fulfilmentId, causeEventId } = r;
  if (!Number.isInteger(allocationSeq) || allocationSeq < 1) throw new ValidationError('order.invalid_allocation_seq', 'A re-allocation is numbered from 1');
  if (cause !== 'backorder' && (!fulfilmentId || !causeEventId)) {
    throw new ValidationError('order.give_back_unnamed', 'Re-sourcing lines a location gave back names its fulfilment and the event it gave them back in');
  }
  if (alreadyReallocated(o, r)) return [];                            // a retried re-sourcing
  if (o.cancellation) throw new ConflictError('order.cancelled', 'The order was cancelled: its reservations must be released');
  if (o.rejection) throw new ConflictError('order.rejected', 'The order was rejected: its reservations must be released');
  if (!o.allocation) throw new ConflictError('order.not_allocated', `Order ${orderId} has no allocation to change`);
  const next = lastAllocationSeq(o.progress) + 1;
  if (allocationSeq !== next) throw new ConflictError('order.reallocation_out_of_order', `Order ${orderId} expects re-allocation ${next}, not ${allocationSeq}`);
  for (const x of released) {
    const held = reservedAt(o.progress, x.locationId);
    for (const l of unitsBySku(x.lines)) {
      if (l.quantity > (held.get(l.sku) ?? 0)) {
        throw new ConflictError('order.release_exceeds_allocation', `Order ${orderId} holds ${held.get(l.sku) ?? 0} of ${l.sku} at ${x.locationId}, not ${l.quantity}`);
      }
    }
  }
  if (cause === 'backorder') {
    // Stock arrived: all the units the order waits for are sourced together, nothing is released.
    const waiting = waitingForStock(o.progress);
    if (waiting.length === 0 || released.length > 0 || backordered.length > 0 || units(allocations.flatMap((a) => a.lines)) !== units(waiting)) {
      throw new ConflictError('order.backorder_fill_mismatch', `Filling order ${orderId}'s backorder holds exactly the units it waits for (${units(waiting)}) and releases nothing`);
    }
  } else if (released.length === 0 || units(released.flatMap((x) => x.lines)) !== units([...allocations.flatMap((a) => a.lines), ...backordered])) {
    throw new ConflictError('order.reallocation_unbalanced', 'A re-allocation holds elsewhere or backorders exactly the units it releases');
  }
  const refused = givenBack([...o.reallocations, r]);
  for (const a of allocations) {
    const back = refused.find((g) => g.locationId === a.locationId && a.lines.some((l) => l.sku === g.sku));
    if (back) throw new ConflictError('order.location_gave_back', `${a.locationId} gave ${back.sku} of order ${orderId} back: it is not allocated there again`);
  }
  return [{
    type: 'OrderReallocated',
    data: {
      orderId, released, allocations, transfers, allocationSeq, cost, why, candidates, cause, backordered,
      ...(fulfilmentId === undefined ? {} : { fulfilmentId }), ...(causeEventId === undefined ? {} : { causeEventId }), at: command.metadata.now,
    },
  }];
};

const recordFulfilmentShipped: Decide<'RecordFulfilmentShipped'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  const { orderId, fulfilmentId, locationId, lines } = command.data;
  if (o.progress.shipments.some((s) => s.fulfilmentId === fulfilmentId)) return [];
  if (o.handovers.includes(fulfilmentId)) throw new ConflictError('order.fulfilment_collected', `Fulfilment ${fulfilmentId} was collected, not shipped`);
  checkLines(lines, 'A shipment');
  mustBeReleased(o);
  withinOrdered(o, lines);
  return [{ type: 'OrderFulfilmentShipped', data: { orderId, fulfilmentId, locationId, lines, at: command.metadata.now } }];
};

const recordFulfilmentDelivered: Decide<'RecordFulfilmentDelivered'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  const { orderId, fulfilmentId } = command.data;
  const shipment = o.progress.shipments.find((s) => s.fulfilmentId === fulfilmentId);
  if (!shipment) throw new ConflictError('order.fulfilment_not_shipped', `Fulfilment ${fulfilmentId} of order ${orderId} has not shipped`);
  if (shipment.deliveredAt !== null) return [];
  return [{ type: 'OrderFulfilmentDelivered', data: { orderId, fulfilmentId, at: command.metadata.now } }];
};

const recordReadyForPickup: Decide<'RecordReadyForPickup'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  const { orderId, fulfilmentId, locationId, code, readyAt, expiresAt } = command.data;
  if (o.progress.pickups.some((x) => x.fulfilmentId === fulfilmentId)) return [];
  if (o.order.delivery.method !== 'pickup') throw new ConflictError('order.not_pickup', `Order ${orderId} is shipped, not collected`);
  mustBeReleased(o);
  return [{ type: 'OrderReadyForPickup', data: { orderId, fulfilmentId, locationId, code, readyAt, expiresAt, at: command.metadata.now } }];
};

const recordCollection: Decide<'RecordCollection'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  const { orderId, fulfilmentId, lines } = command.data;
  const pickup = o.progress.pickups.find((x) => x.fulfilmentId === fulfilmentId);
  if (pickup?.collected) return [];
  if (o.order.delivery.method !== 'pickup') throw new ConflictError('order.not_pickup', `Order ${orderId} is shipped, not collected`);
  if (!pickup) throw new ConflictError('order.pickup_not_ready', `Fulfilment ${fulfilmentId} of order ${orderId} is not ready for pickup`);
  checkLines(lines, 'A collection');
  withinOrdered(o, lines);
  return [{ type: 'OrderCollected', data: { orderId, fulfilmentId, locationId: pickup.locationId, lines, at: command.metadata.now } }];
};

// A transfer moves the order's units to its pickup store: recorded whatever has become of the
// order since (the units are on their way), each fact once; it hands nothing to the customer.

const recordTransferShipped: Decide<'RecordTransferShipped'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  const { orderId, fulfilmentId, from, to, lines } = command.data;
  if (o.transfers.some((t) => t.fulfilmentId === fulfilmentId)) return [];
  if (o.order.delivery.method !== 'pickup' || o.order.delivery.locationId !== to) {
    throw new ConflictError('order.not_pickup', `Order ${orderId} is not collected at ${to}: nothing is transferred there for it`);
  }
  checkLines(lines, 'A transfer');
  mustBeReleased(o);
  return [{ type: 'OrderTransferShipped', data: { orderId, fulfilmentId, from, to, lines, at: command.metadata.now } }];
};

const recordTransferReceived: Decide<'RecordTransferReceived'> = (command, state) => {
  const o = placed(state, command.data.orderId);
  const { orderId, fulfilmentId, from, to, lines } = command.data;
  const transfer = o.transfers.find((t) => t.fulfilmentId === fulfilmentId);
  if (transfer?.received) return [];
  if (!transfer) throw new ConflictError('order.transfer_not_shipped', `Transfer ${fulfilmentId} of order ${orderId} has not been sent`);
  checkLines(lines, 'A transfer');
  // A closed order's stock is released: what arrives for it is the store's to sell.
  return [{ type: 'OrderTransferReceived', data: { orderId, fulfilmentId, from, to, lines, reserved: !isClosed(o), at: command.metadata.now } }];
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
  RecordReallocation: recordReallocation,
  RecordFulfilmentShipped: recordFulfilmentShipped,
  RecordFulfilmentDelivered: recordFulfilmentDelivered,
  RecordReadyForPickup: recordReadyForPickup,
  RecordCollection: recordCollection,
  RecordTransferShipped: recordTransferShipped,
  RecordTransferReceived: recordTransferReceived,
  RecordPaymentAuthorization: recordPaymentAuthorization,
  RecordPaymentDecline: recordPaymentDecline,
  RecordPaymentCapture: (command, state) => capture(placed(state, command.data.orderId), command.data, command.metadata.now),
  RecordPaymentVoid: (command, state) => voidAuthorization(placed(state, command.data.orderId), command.data, command.metadata.now),
  RecordPaymentRefund: (command, state) => recordPaymentRefund(placed(state, command.data.orderId), command.data, command.metadata.now),
  AuthorizeReturn: (command, state) => authorizeReturn(placed(state, command.data.orderId), command.data, command.metadata.now),
  RequestRefund: (command, state) => requestRefund(placed(state, command.data.orderId), command.data, command.metadata.now),
  RecordRefundFailure: (command, state) => recordRefundFailure(placed(state, command.data.orderId), command.data, command.metadata.now),
};

/** A refund paid for a refund request pays exactly what it reserved; any other may not take what is reserved for them. */
function recordPaymentRefund(o: PlacedState, data: Extract<OrderCommand, { type: 'RecordPaymentRefund' }>['data'], at: string): OrderEvent[] {
  if (data.refundKey === undefined) return refund(o, data, at, pendingRefunds(o.returns));
  const owed = o.returns.refunds.find((x) => x.refundKey === data.refundKey);
  if (!owed) throw new ConflictError('refund.not_found', `Order ${o.order.orderId} owes no refund ${data.refundKey}`);
  if (owed.refundId !== null) return owed.refundId === data.refundId ? [] : refusedTwice(o, data.refundKey);
  if (data.amount !== owed.amount) throw new ConflictError('refund.amount_mismatch', `Refund ${data.refundKey} owes ${owed.amount}, not ${data.amount}`);
  return refund(o, data, at, pendingRefunds(o.returns, data.refundKey));
}

function refusedTwice(o: PlacedState, refundKey: string): never {
  throw new ConflictError('refund.already_paid', `Refund ${refundKey} of order ${o.order.orderId} is already paid`);
}

export const orderDecider: Decider<Order, OrderCommand, OrderEvent> = {
  initialState,
  evolve,
  decide(command, state) {
    const decide = decisions[command.type] as Decide<OrderCommand['type']> | undefined;
    if (!decide) throw new Error(`Unhandled command ${command.type}`);
    return decide(command, state);
  },
};
