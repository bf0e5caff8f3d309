import type { Command } from '../decider.js';
import { ConflictError } from '../../platform/errors.js';
import type { OrderEvent, Payment, PlacedOrder, SkuQuantity } from './order.events.js';
import { handedOverBy, handedOverUnits, unitsAlong, unitsBySku, type Progress } from './order-progress.js';

// The order's payment: what the gateway has answered, folded into a ledger, and the rules for
// recording each answer. What an answer means for the order (a release, a rejection) is the
// order decider's.

export type PaymentCommand =
  | Command<'RecordPaymentAuthorization', { orderId: string; authorizationId: string; amount: number }>
  | Command<'RecordPaymentDecline', { orderId: string; code: string; detail: string }>
  | Command<'RecordPaymentCapture', { orderId: string; captureId: string; amount: number; fulfilmentId?: string }>
  | Command<'RecordPaymentVoid', { orderId: string; authorizationId: string }>
  /** `refundKey`: the refund request it pays (see order-returns.ts); absent for settling a closed order. */
  | Command<'RecordPaymentRefund', { orderId: string; refundId: string; amount: number; refundKey?: string }>;

export type PaymentEvent = Extract<OrderEvent, { type: `Payment${string}` }>;

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
  /** The fulfilments whose share has been captured. */
  capturedShipments: string[];
}

export const NO_PAYMENT: PaymentLedger = {
  authorizationId: null, authorized: 0, captured: 0, refunded: 0, voided: false, declined: null, seen: [], capturedShipments: [],
};

/** What the payment rules read: the order as placed, and its ledger. */
export interface Paying { order: PlacedOrder; payment: PaymentLedger }

export function evolveLedger(p: PaymentLedger, event: PaymentEvent): PaymentLedger {
  switch (event.type) {
    case 'PaymentAuthorized': return { ...p, authorizationId: event.data.authorizationId, authorized: event.data.amount };
    case 'PaymentDeclined': return { ...p, declined: { code: event.data.code, detail: event.data.detail } };
    case 'PaymentCaptured': {
      const { totalCaptured, captureId, fulfilmentId } = event.data;
      return { ...p, captured: totalCaptured, seen: [...p.seen, captureId], capturedShipments: fulfilmentId === undefined ? p.capturedShipments : [...p.capturedShipments, fulfilmentId] };
    }
    case 'PaymentVoided': return { ...p, voided: true };
    case 'PaymentRefunded': return { ...p, refunded: event.data.totalRefunded, seen: [...p.seen, event.data.refundId] };
    default: {
      const unknown: never = event;
      void unknown;
      return p;
    }
  }
}

/** Whether the order's payment is good for release: authorised in full, or not taken by card. */
export function paymentSecured(o: Paying): boolean {
  if (o.order.payment.method !== 'card') return true;
  return o.payment.authorizationId !== null && !o.payment.voided && o.payment.authorized >= o.order.total;
}

export type PaymentStatus =
  | 'due_on_delivery' | 'paid' | 'pending' | 'authorized' | 'declined' | 'voided' | 'partially_captured' | 'captured' | 'partially_refunded' | 'refunded';

/** The payment's status, the one rule for it: by the method, and for a card by how far its ledger has gone. */
export function paymentStatus(method: Payment['method'], p: Omit<PaymentLedger, 'seen' | 'capturedShipments'>): PaymentStatus {
  switch (method) {
    case 'cash_on_delivery': return 'due_on_delivery';
    case 'prepaid': return 'paid';
    case 'card':
      if (p.declined) return 'declined';
      if (p.refunded > 0) return p.refunded >= p.captured ? 'refunded' : 'partially_refunded';
      if (p.voided) return 'voided';
      if (p.captured > 0) return p.captured >= p.authorized ? 'captured' : 'partially_captured';
      return p.authorizationId ? 'authorized' : 'pending';
    default: {
      const unknown: never = method;
      throw new Error(`Unknown payment method ${String(unknown)}`);
    }
  }
}

/** What the ledger still holds at the gateway: an authorisation to void, or captured money to refund. */
export function heldAtGateway(p: PaymentLedger, reserved = 0): { void: string | null; refund: number } {
  if (!p.authorizationId) return { void: null, refund: 0 };
  return { void: p.captured === 0 && !p.voided ? p.authorizationId : null, refund: Math.max(0, p.captured - p.refunded - reserved) };
}

type Data<T extends PaymentCommand['type']> = Extract<PaymentCommand, { type: T }>['data'];

// The rules for recording each gateway answer on the ledger: no events when it is already recorded.

export function authorize(o: Paying, { authorizationId, amount }: Data<'RecordPaymentAuthorization'>, at: string): PaymentEvent[] {
  if (o.payment.authorizationId === authorizationId) return [];   // a retried job
  if (o.payment.authorizationId) throw new ConflictError('payment.already_authorized', `Order ${o.order.orderId} already holds authorisation ${o.payment.authorizationId}`);
  if (o.payment.declined) throw new ConflictError('payment.declined', `The payment of order ${o.order.orderId} was declined`);
  return [{ type: 'PaymentAuthorized', data: { orderId: o.order.orderId, authorizationId, amount, currency: o.order.currency, at } }];
}

export function decline(o: Paying, { code, detail }: Data<'RecordPaymentDecline'>, at: string): PaymentEvent[] {
  if (o.payment.declined) return [];
  if (o.payment.authorizationId) throw new ConflictError('payment.already_authorized', `Order ${o.order.orderId} is already authorised`);
  return [{ type: 'PaymentDeclined', data: { orderId: o.order.orderId, code, detail, at } }];
}

export function capture(o: Paying, { captureId, amount, fulfilmentId }: Data<'RecordPaymentCapture'>, at: string): PaymentEvent[] {
  if (o.payment.seen.includes(captureId)) return [];
  if (!o.payment.authorizationId || o.payment.voided) throw new ConflictError('payment.not_authorized', `Order ${o.order.orderId} holds no authorisation to capture`);
  if (amount <= 0 || o.payment.captured + amount > o.payment.authorized) {
    throw new ConflictError('payment.capture_exceeds_authorization', `Capturing ${amount} would exceed the ${o.payment.authorized} authorised (${o.payment.captured} captured)`);
  }
  return [{
    type: 'PaymentCaptured',
    data: { orderId: o.order.orderId, captureId, amount, totalCaptured: o.payment.captured + amount, ...(fulfilmentId === undefined ? {} : { fulfilmentId }), at },
  }];
}

export function voidAuthorization(o: Paying, { authorizationId }: Data<'RecordPaymentVoid'>, at: string): PaymentEvent[] {
  if (o.payment.voided) return [];
  if (o.payment.authorizationId !== authorizationId) throw new ConflictError('payment.not_authorized', `Order ${o.order.orderId} does not hold authorisation ${authorizationId}`);
  if (o.payment.captured > 0) throw new ConflictError('payment.already_captured', `Order ${o.order.orderId} has captured ${o.payment.captured}: refund instead`);
  return [{ type: 'PaymentVoided', data: { orderId: o.order.orderId, authorizationId, at } }];
}

/** `reserved`: money held for other refunds not paid yet, which this one may not take. */
export function refund(o: Paying, { refundId, amount, refundKey }: Data<'RecordPaymentRefund'>, at: string, reserved = 0): PaymentEvent[] {
  if (o.payment.seen.includes(refundId)) return [];
  if (amount <= 0 || o.payment.refunded + reserved + amount > o.payment.captured) {
    throw new ConflictError('payment.refund_exceeds_capture',
      `Refunding ${amount} would exceed the ${o.payment.captured} captured (${o.payment.refunded} refunded${reserved > 0 ? `, ${reserved} owed to other refunds` : ''})`);
  }
  return [{
    type: 'PaymentRefunded',
    data: { orderId: o.order.orderId, refundId, amount, totalRefunded: o.payment.refunded + amount, ...(refundKey === undefined ? {} : { refundKey }), at },
  }];
}

/** What the capture rule reads: the paying order, what it has handed over, and in which order. */
export interface Shipping extends Paying { progress: Progress; handovers: string[] }

/**
 * How much to capture for a fulfilment that shipped or was collected (the `on_shipment` policy):
 * the value of its lines at the order's prices; the last one, after which nothing is left to
 * hand over, the rest of the authorisation; never more than is left of it. 0 for an order not
 * paid by card, a fulfilment that has handed nothing over, or one whose share is captured.
 * Each amount follows from the handovers alone, so asking again gives the same one.
 */
export function captureForShipment(o: Shipping, fulfilmentId: string): number {
  const p = o.payment;
  if (o.order.payment.method !== 'card' || !p.authorizationId || p.voided || p.capturedShipments.includes(fulfilmentId)) return 0;
  const at = o.handovers.indexOf(fulfilmentId);
  if (at === -1) return 0;
  const shares = sharesOf(o.order.lines, o.handovers.map((id) => handedOverBy(o.progress, id) ?? []));
  const handed = handedOverUnits(o.progress);
  const last = at === o.handovers.length - 1 && unitsBySku(o.order.lines).every((l) => (handed.get(l.sku) ?? 0) >= l.quantity);
  const amount = last ? p.authorized - shares.slice(0, at).reduce((sum, s) => sum + s, 0) : shares[at];
  return Math.max(0, Math.min(amount, p.authorized - p.captured));
}

/**
 * The value of each handover's lines, in order: a SKU's units are priced along the order's lines
 * for it, first line first, each handover taking the units after those handed over before it.
 */
function sharesOf(ordered: PlacedOrder['lines'], handovers: SkuQuantity[][]): number[] {
  const taken = new Map<string, number>();
  return handovers.map((lines) => lines.reduce((sum, l) => {
    const from = taken.get(l.sku) ?? 0;
    taken.set(l.sku, from + l.quantity);
    return sum + valueOfUnits(ordered.filter((o) => o.sku === l.sku), from, from + l.quantity);
  }, 0));
}

/** The value of units [from, to) of one SKU along its order lines; units beyond them are worth nothing. */
function valueOfUnits(lines: PlacedOrder['lines'], from: number, to: number): number {
  return unitsAlong(lines, from, to - from).reduce((value, { line, quantity }) => value + quantity * line.unitPrice, 0);
}
