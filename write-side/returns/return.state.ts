import { movesOn, shipmentStatusOf } from '../fulfilments/fulfilment.state.js';
import type { ShipmentLabel, TrackingUpdate } from '../fulfilments/fulfilment.events.js';
import type { SkuQuantity } from '../orders/order.events.js';
import type { ReceivedLine, ReturnCarrierDecision, ReturnEvent, ReturnLine, ReturnOrigin, ReturnResolution } from './return.events.js';

// A return's state, folded from its events, and its status.

export const RETURN_STATUSES = ['requested', 'label_created', 'in_transit', 'partially_received', 'received', 'refunded', 'exchanged'] as const;
export type ReturnStatus = (typeof RETURN_STATUSES)[number];

export interface Receipt { receiptId: string; locationId: string; lines: ReceivedLine[]; at: string }

export interface ReceiptRefund {
  receiptId: string; amount: number; refundId: string | null; failure: { code: string; detail: string; at: string } | null; settled: boolean;
  /** The gateway's refusals recorded for it. */
  failures: number;
}

export interface OpenReturn {
  status: ReturnStatus;
  returnId: string;
  orderId: string;
  customerId: string;
  placedBy: string;
  currency: string;
  lines: ReturnLine[];
  resolution: ReturnResolution;
  exchangeLines: SkuQuantity[] | null;
  origin: ReturnOrigin;
  openedAt: string;
  carrierDecision: ReturnCarrierDecision | null;
  label: (ShipmentLabel & { locationId: string }) | null;
  tracking: (Omit<TrackingUpdate, 'carrierId' | 'trackingNumber'> & { moved: boolean })[];
  receipts: Receipt[];
  refunds: ReceiptRefund[];
  exchangeOrderId: string | null;
}

export type Return = { status: 'none' } | OpenReturn;

export const initialState: Return = { status: 'none' };

/** Units per SKU the return holds. */
export function unitsOf(lines: { sku: string; quantity: number }[]): Map<string, number> {
  const bySku = new Map<string, number>();
  for (const l of lines) bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + l.quantity);
  return bySku;
}

/** Units per SKU received so far, over every receipt. */
export const receivedUnits = (r: OpenReturn): Map<string, number> => unitsOf(r.receipts.flatMap((x) => x.lines));

/** Every unit of the return has been received. */
export function fullyReceived(r: Pick<OpenReturn, 'lines' | 'receipts'>): boolean {
  const received = unitsOf(r.receipts.flatMap((x) => x.lines));
  return [...unitsOf(r.lines)].every(([sku, n]) => (received.get(sku) ?? 0) >= n);
}

/**
 * The return's status, the one rule for it: once every unit is in and every receipt's refund
 * settled, refunded (exchanged, for an exchange whose replacement is ordered); every unit in,
 * received; some, partially received; the parcel moving, in transit; a label, label created;
 * else requested.
 */
export function returnStatusOf(r: Omit<OpenReturn, 'status'>): ReturnStatus {
  if (r.receipts.length > 0) {
    if (!fullyReceived(r)) return 'partially_received';
    const settled = r.receipts.every((x) => r.refunds.some((f) => f.receiptId === x.receiptId && f.settled));
    if (!settled) return 'received';
    return r.resolution === 'exchange' && r.exchangeOrderId !== null ? 'exchanged' : 'refunded';
  }
  if (r.label) return shipmentStatusOf(r.tracking) === 'label_created' ? 'label_created' : 'in_transit';
  return 'requested';
}

/** Where the return's refunds stand, the one rule for it: none before a receipt; failed while the gateway's last answer to one is a refusal; pending while one is owed; else refunded. */
export function refundStatusOf(r: Pick<OpenReturn, 'receipts' | 'refunds'>): 'failed' | 'pending' | 'refunded' | null {
  if (r.receipts.length === 0) return null;
  if (r.refunds.some((f) => !f.settled && f.failure)) return 'failed';
  return r.receipts.every((x) => r.refunds.some((f) => f.receiptId === x.receiptId && f.settled)) ? 'refunded' : 'pending';
}

function withStatus(r: Omit<OpenReturn, 'status'>): OpenReturn {
  return { ...r, status: returnStatusOf(r) };
}

export function evolve(state: Return, event: ReturnEvent): Return {
  if (event.type === 'ReturnOpened') {
    if (state.status !== 'none') return state;
    const { returnId, orderId, customerId, placedBy, currency, lines, resolution, exchangeLines, origin, at } = event.data;
    return withStatus({
      returnId, orderId, customerId, placedBy, currency, lines, resolution, exchangeLines: exchangeLines ?? null, origin, openedAt: at,
      carrierDecision: null, label: null, tracking: [], receipts: [], refunds: [], exchangeOrderId: null,
    });
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'ReturnCarrierChosen':
      return state.carrierDecision ? state : { ...state, carrierDecision: event.data.decision };
    case 'ReturnLabelled':
      return state.label ? state : withStatus({ ...state, label: { ...event.data.label, locationId: event.data.locationId } });
    case 'ReturnTracked': {
      const { status, at, detail, location, moved } = event.data;
      return withStatus({ ...state, tracking: [...state.tracking, { status, at, ...(detail === undefined ? {} : { detail }), ...(location === undefined ? {} : { location }), moved }] });
    }
    case 'ReturnReceived': {
      const { receiptId, locationId, lines, at } = event.data;
      if (state.receipts.some((x) => x.receiptId === receiptId)) return state;
      return withStatus({ ...state, receipts: [...state.receipts, { receiptId, locationId, lines, at }] });
    }
    case 'ReturnRefunded': {
      const { receiptId, amount, refundId } = event.data;
      const others = state.refunds.filter((f) => f.receiptId !== receiptId);
      return withStatus({ ...state, refunds: [...others, { receiptId, amount, refundId, failure: null, settled: true, failures: state.refunds.find((f) => f.receiptId === receiptId)?.failures ?? 0 }] });
    }
    case 'RefundFailed': {
      const { receiptId, amount, code, detail, at } = event.data;
      if (state.refunds.some((f) => f.receiptId === receiptId && f.settled)) return state;
      const others = state.refunds.filter((f) => f.receiptId !== receiptId);
      return withStatus({ ...state, refunds: [...others, { receiptId, amount, refundId: null, failure: { code, detail, at }, settled: false, failures: (state.refunds.find((f) => f.receiptId === receiptId)?.failures ?? 0) + 1 }] });
    }
    case 'ReturnExchangeOrdered':
      return state.exchangeOrderId ? state : withStatus({ ...state, exchangeOrderId: event.data.exchangeOrderId });
    default: {
      const unknown: never = event;
      void unknown;
      return state;
    }
  }
}

/** An update moves the return's parcel on unless a later one is known (the outbound rule). */
export const returnMovesOn = (r: OpenReturn, at: string): boolean => movesOn(r.tracking, at);
