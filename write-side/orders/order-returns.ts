import { ConflictError, ValidationError } from '../../platform/errors.js';
import type { Command } from '../decider.js';
import type { OrderEvent, OrderLine, PlacedOrder, ReturnLine, ReturnResolution, SkuQuantity } from './order.events.js';
import { unitsAlong, unitsBySku, type Progress } from './order-progress.js';
import type { PaymentLedger } from './payment-ledger.js';

// What an order knows of its returns: which units customers have asked to send back (the return
// policy is decided here, on the order's stream, so two returns can never take the same units),
// and the refunds they were owed, each reserved against what was captured before the gateway is
// asked, so two receipts refunded at once never refund more than was paid.

export type { ReturnLine, ReturnResolution };

export interface ReturnRecord { returnId: string; lines: ReturnLine[]; resolution: ReturnResolution; exchangeLines?: SkuQuantity[]; at: string }

/** A refund owed for a receipt (or another cause), reserved on the ledger until the gateway has paid it. */
export interface RefundRecord {
  refundKey: string;
  returnId: string | null;
  amount: number;
  /** Units the receipt brought back. */
  units: number;
  /** The gateway's refund id, once it has paid. */
  refundId: string | null;
  /** The gateway's last refusal, until it pays; `failures` counts them (each refused request spends its key). */
  failure: { code: string; detail: string; at: string } | null;
  failures: number;
}

export interface ReturnsRecord { returns: ReturnRecord[]; refunds: RefundRecord[] }

export const NO_RETURNS: ReturnsRecord = { returns: [], refunds: [] };

export type ReturnCommand =
  | Command<'AuthorizeReturn', {
    orderId: string; returnId: string; lines: { sku: string; quantity: number; reason: string }[]; resolution: ReturnResolution;
    exchangeLines?: SkuQuantity[]; windowDays: number;
  }>
  /** What a receipt of a return refunds: its units (priced as the return holds them); `refundShipping`: the shipping rule in force. */
  | Command<'RequestRefund', { orderId: string; refundKey: string; returnId: string; lines: { sku: string; quantity: number; unitPrice: number }[]; refundShipping: boolean }>
  /** `attempt`: how many refusals were recorded when the refused request was made (its key's number). */
  | Command<'RecordRefundFailure', { orderId: string; refundKey: string; attempt: number; code: string; detail: string }>;

export type ReturnEvent = Extract<OrderEvent, { type: 'OrderReturnAuthorized' | 'OrderRefundRequested' | 'OrderRefundFailed' }>;

export function evolveReturns(r: ReturnsRecord, event: OrderEvent): ReturnsRecord {
  switch (event.type) {
    case 'OrderReturnAuthorized': {
      const { returnId, lines, resolution, exchangeLines, at } = event.data;
      if (r.returns.some((x) => x.returnId === returnId)) return r;
      return { ...r, returns: [...r.returns, { returnId, lines, resolution, ...(exchangeLines === undefined ? {} : { exchangeLines }), at }] };
    }
    case 'OrderRefundRequested': {
      const { refundKey, returnId, amount, units } = event.data;
      if (r.refunds.some((x) => x.refundKey === refundKey)) return r;
      return { ...r, refunds: [...r.refunds, { refundKey, returnId, amount, units, refundId: null, failure: null, failures: 0 }] };
    }
    case 'OrderRefundFailed': {
      const { refundKey, code, detail, at } = event.data;
      return { ...r, refunds: r.refunds.map((x) => (x.refundKey === refundKey ? { ...x, failure: { code, detail, at }, failures: x.failures + 1 } : x)) };
    }
    case 'PaymentRefunded': {
      const { refundKey, refundId } = event.data;
      if (refundKey === undefined) return r;
      return { ...r, refunds: r.refunds.map((x) => (x.refundKey === refundKey ? { ...x, refundId, failure: null } : x)) };
    }
    default:
      return r;
  }
}

/** Money reserved for refunds the gateway has not paid yet (`except` one of them). */
export function pendingRefunds(r: ReturnsRecord, except?: string): number {
  return r.refunds.filter((x) => x.refundId === null && x.refundKey !== except).reduce((sum, x) => sum + x.amount, 0);
}

/** Units per SKU already taken back by the order's returns. */
export function returnedUnits(r: ReturnsRecord): Map<string, number> {
  return new Map(unitsBySku(r.returns.flatMap((x) => x.lines)).map((l) => [l.sku, l.quantity]));
}

/** What the return rules read: the order as placed, its progress, returns and ledger. */
export interface Returning { order: PlacedOrder; progress: Progress; returns: ReturnsRecord; payment: PaymentLedger; handovers: string[] }

const DAY_MS = 86_400_000;

/**
 * The return policy: only units delivered or collected, no more than were shipped less what
 * earlier returns took, within `windowDays` of their delivery (units delivered longest ago are
 * taken to be the ones returned before). Each line's units are priced along the order's lines for
 * their SKU, after the units returned before. A broken rule is a 409 naming it.
 */
export function authorizeReturn(o: Returning, data: Extract<ReturnCommand, { type: 'AuthorizeReturn' }>['data'], at: string): ReturnEvent[] {
  const { orderId, returnId, resolution, windowDays } = data;
  if (o.returns.returns.some((x) => x.returnId === returnId)) return [];               // the same request again
  const requested = data.lines;
  if (!Array.isArray(requested) || requested.length === 0) throw new ValidationError('return.no_lines', 'A return needs at least one line', [{ path: '/lines', message: 'empty' }]);
  requested.forEach((l, i) => {
    if (!Number.isInteger(l.quantity) || l.quantity <= 0) throw new ValidationError('return.invalid_quantity', 'Each quantity is a whole number above 0', [{ path: `/lines/${i}/quantity`, message: String(l.quantity) }]);
  });
  if (resolution === 'exchange' && (data.exchangeLines ?? []).length === 0) {
    throw new ValidationError('return.no_exchange_lines', 'An exchange names the replacement lines', [{ path: '/exchangeLines', message: 'missing' }]);
  }
  const now = Date.parse(at);
  const shipped = new Map<string, number>();
  const delivered: { sku: string; quantity: number; at: number }[] = [];
  for (const s of o.progress.shipments) {
    for (const l of s.lines) {
      shipped.set(l.sku, (shipped.get(l.sku) ?? 0) + l.quantity);
      if (s.deliveredAt !== null) delivered.push({ sku: l.sku, quantity: l.quantity, at: Date.parse(s.deliveredAt) });
    }
  }
  for (const x of o.progress.pickups) {
    for (const l of x.collected?.lines ?? []) {
      shipped.set(l.sku, (shipped.get(l.sku) ?? 0) + l.quantity);
      delivered.push({ sku: l.sku, quantity: l.quantity, at: Date.parse(x.collected!.at) });
    }
  }
  const before = returnedUnits(o.returns);
  const lines: ReturnLine[] = [];
  for (const l of unitsBySku(requested)) {
    const returned = before.get(l.sku) ?? 0;
    const sent = shipped.get(l.sku) ?? 0;
    const rule = (code: string, detail: string) => new ConflictError(code, `${l.quantity} of ${l.sku}: ${detail}`);
    if (l.quantity > sent - returned && sent === 0) throw rule('return.not_shipped', `order ${orderId} has not shipped any`);
    if (l.quantity > sent) throw rule('return.exceeds_shipped', `only ${sent} shipped`);
    if (l.quantity > sent - returned) throw rule('return.already_returned', `${returned} of the ${sent} shipped are already being returned`);
    const arrived = delivered.filter((d) => d.sku === l.sku).sort((a, b) => a.at - b.at);
    const deliveredUnits = arrived.reduce((n, d) => n + d.quantity, 0);
    if (l.quantity > deliveredUnits - returned) throw rule('return.not_delivered', `${deliveredUnits} delivered or collected, ${returned} of them returned already`);
    // Earlier returns took the units that arrived first; what is left must have arrived within the window.
    let skip = returned;
    let inWindow = 0;
    for (const d of arrived) {
      const left = d.quantity - Math.min(skip, d.quantity);
      skip = Math.max(0, skip - d.quantity);
      if (d.at + windowDays * DAY_MS >= now) inWindow += left;
    }
    if (l.quantity > inWindow) throw rule('return.window_closed', `only ${inWindow} were delivered within the ${windowDays}-day return window`);
    const reasons = requested.filter((r) => r.sku === l.sku).map((r) => r.reason).filter((r) => typeof r === 'string' && r.length > 0);
    lines.push(...priced(o.order.lines.filter((x) => x.sku === l.sku), returned, l.quantity, [...new Set(reasons)].join('; ') || 'unspecified'));
  }
  return [{
    type: 'OrderReturnAuthorized',
    data: { orderId, returnId, lines, resolution, ...(resolution === 'exchange' ? { exchangeLines: data.exchangeLines } : {}), at },
  }];
}

/** Units [from, from + quantity) of one SKU along its order lines, as return lines at each line's price. */
function priced(ordered: OrderLine[], from: number, quantity: number, reason: string): ReturnLine[] {
  const out: ReturnLine[] = [];
  for (const { line, quantity: n } of unitsAlong(ordered, from, quantity)) {
    const same = out.find((x) => x.unitPrice === line.unitPrice);
    if (same) same.quantity += n;
    else out.push({ sku: line.sku, quantity: n, unitPrice: line.unitPrice, reason });
  }
  return out;
}

/**
 * The refund a receipt is owed: its units at the prices the return holds; the order's shipping
 * too when the shipping rule says so and, with this receipt, every unit of the order has come
 * back; never more than was captured, less what is refunded or reserved for other refunds. A
 * refund already requested under this key is not requested again; an amount of 0 is recorded
 * all the same, so the receipt's refund is known to be settled.
 */
export function requestRefund(o: Returning, data: Extract<ReturnCommand, { type: 'RequestRefund' }>['data'], at: string): ReturnEvent[] {
  const { orderId, refundKey, returnId, lines, refundShipping } = data;
  if (o.returns.refunds.some((x) => x.refundKey === refundKey)) return [];
  if (!o.returns.returns.some((x) => x.returnId === returnId)) throw new ConflictError('return.not_found', `Order ${orderId} has no return ${returnId}`);
  const value = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
  const ordered = o.order.lines.reduce((n, l) => n + l.quantity, 0);
  const units = lines.reduce((n, l) => n + l.quantity, 0);
  const receivedBefore = o.returns.refunds.reduce((n, x) => n + x.units, 0);
  const shipping = refundShipping && receivedBefore + units >= ordered ? o.order.shippingPrice ?? 0 : 0;
  const card = o.order.payment.method === 'card';
  const room = card ? o.payment.captured - o.payment.refunded - pendingRefunds(o.returns) : 0;
  // What was handed over may not be captured yet (its capture job still retrying): refunding less
  // now would settle the receipt short for good, so the refund waits for the capture.
  const uncaptured = o.payment.captured === 0 || (o.payment.captured < o.payment.authorized && o.handovers.some((id) => !o.payment.capturedShipments.includes(id)));
  if (card && value + shipping > room && uncaptured && !o.payment.voided) {
    throw new ConflictError('refund.capture_pending', `Order ${orderId} has not recorded the capture of what it handed over yet: the refund of ${value + shipping} waits for it`);
  }
  const amount = Math.max(0, Math.min(value + shipping, room));
  return [{ type: 'OrderRefundRequested', data: { orderId, refundKey, returnId, amount, value, shipping, units, at } }];
}

export function recordRefundFailure(o: Returning, data: Extract<ReturnCommand, { type: 'RecordRefundFailure' }>['data'], at: string): ReturnEvent[] {
  const { orderId, refundKey, attempt, code, detail } = data;
  const refund = o.returns.refunds.find((x) => x.refundKey === refundKey);
  if (!refund) throw new ConflictError('refund.not_found', `Order ${orderId} owes no refund ${refundKey}`);
  if (refund.refundId !== null || attempt < refund.failures) return [];  // paid meanwhile, or this refusal is recorded
  return [{ type: 'OrderRefundFailed', data: { orderId, refundKey, code, detail, at } }];
}

