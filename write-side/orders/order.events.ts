import type { EventMetadata } from '../../event-store/event-store.port.js';
import type { DomainEvent } from '../decider.js';

export const CHANNELS = ['web', 'mobile', 'store', 'marketplace', 'social'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface OrderLine { sku: string; quantity: number; unitPrice: number }

export interface Address {
  line1: string;
  line2?: string;
  city: string;
  region?: string;
  postalCode: string;
  country: string;
  geo?: { lat: number; lon: number };
}

export type Delivery =
  | { method: 'ship'; speed: 'standard' | 'express' | 'cheapest'; address: Address }
  | { method: 'pickup'; locationId: string };

export type Payment =
  | { method: 'card'; token: string }
  | { method: 'cash_on_delivery' }
  | { method: 'prepaid'; reference?: string };

export interface Customer { id: string; email?: string; name?: string; phone?: string }

export interface PlacedOrder {
  orderId: string;
  channel: Channel;
  source?: string;
  externalId?: string;
  currency: string;
  customer: Customer;
  lines: OrderLine[];
  /** What the customer pays for delivery, in minor units (absent: 0). */
  shippingPrice?: number;
  /** Sum of quantity * unitPrice over the lines, and the shipping price, in minor units. */
  total: number;
  /** The return this order replaces units of (an exchange). */
  exchangeFor?: { orderId: string; returnId: string };
  delivery: Delivery;
  payment: Payment;
  placedAt: string;
  /** Opaque id of the API key that placed the order (never the key itself). */
  placedBy: string;
}

export type FraudDecision = 'approve' | 'review' | 'reject';

export interface FraudReason { code: string; points: number; detail: string }

export interface FraudAssessment {
  score: number;
  decision: FraudDecision;
  reasons: FraudReason[];
}

export interface SkuQuantity { sku: string; quantity: number }

/** Where an order's units are reserved, and what must move to a pickup store first. */
export interface OrderAllocation {
  allocations: { locationId: string; lines: SkuQuantity[] }[];
  transfers: { from: string; to: string; lines: SkuQuantity[] }[];
}

/** How the sourcing decision was reached: every location considered and why the chosen ones won. */
export interface SourcingExplanation {
  why: string;
  candidates: { locationId: string; eligible: boolean; reason: string; distanceKm?: number; canFill: SkuQuantity[]; cost?: number }[];
}

export type ReviewDecision = 'approve' | 'reject';

/** Units of an order at one location. */
export interface LocationLines { locationId: string; lines: SkuQuantity[] }

/**
 * Why part of an order was sourced again: its location refused the fulfilment, or could not pick
 * all of it (both give lines back); or stock arrived for units the order was waiting for.
 */
export type ReallocationCause = 'rejected' | 'short_pick' | 'backorder';

/** The causes by which a location gives an order's lines back. */
export type GiveBackCause = Exclude<ReallocationCause, 'backorder'>;

/**
 * Part of an allocated order moved: `released` is no longer held at those locations; `allocations`
 * (with their transfers to a pickup store) newly hold units, and `backordered` are the released
 * units no location could take, which now wait for stock. A give-back (`rejected`, `short_pick`)
 * releases exactly what it allocates and backorders, and names the fulfilment that gave the lines
 * back and the event it did so in; a `backorder` re-allocation releases nothing and allocates the
 * units the order was waiting for. The n-th re-allocation of an order has `allocationSeq` n (the
 * first allocation is 0).
 */
export type Reallocation = OrderAllocation & SourcingExplanation & {
  orderId: string; released: LocationLines[]; allocationSeq: number; cost: number; cause: ReallocationCause;
  backordered: SkuQuantity[];
  fulfilmentId?: string;
  causeEventId?: string;
};

/**
 * OrderReallocated as first stored: no `backordered` (none were), and the event that gave the
 * lines back only in the metadata's causationId, where the fulfilment process put it.
 */
export function withGiveBackDefaults(event: DomainEvent, stored: { metadata: EventMetadata }): DomainEvent {
  const data = event.data as Omit<Reallocation, 'backordered'> & { backordered?: SkuQuantity[] };
  if (data.backordered !== undefined) return event;
  const causeEventId = data.causeEventId ?? (data.cause !== 'backorder' ? stored.metadata?.causationId : undefined);
  return { type: event.type, data: { ...data, backordered: [], ...(causeEventId === undefined ? {} : { causeEventId }) } };
}

/** Units of an order sent from one location to its pickup store by one transfer fulfilment. */
export interface TransferLeg { orderId: string; fulfilmentId: string; from: string; to: string; lines: SkuQuantity[] }

/** Why an order was rejected: by fraud scoring, by an operator's review, or by the payment gateway. */
export type RejectionCause = 'fraud' | 'review' | 'payment_declined';

export type OrderEvent =
  | DomainEvent<'OrderPlaced', PlacedOrder>
  | DomainEvent<'OrderAllocated', OrderAllocation & SourcingExplanation & { orderId: string; cost: number; at: string }>
  | DomainEvent<'OrderBackordered', SourcingExplanation & { orderId: string; missing: SkuQuantity[]; at: string }>
  | DomainEvent<'OrderCancelled', { orderId: string; reason: string; at: string }>
  | DomainEvent<'FraudAssessed', FraudAssessment & { orderId: string; at: string }>
  | DomainEvent<'OrderHeld', { orderId: string; reason: string; at: string }>
  | DomainEvent<'OrderReviewed', { orderId: string; decision: ReviewDecision; note?: string; reviewer: string; at: string }>
  | DomainEvent<'OrderReleased', { orderId: string; at: string }>
  | DomainEvent<'OrderRejected', { orderId: string; cause: RejectionCause; detail: string; at: string }>
  | DomainEvent<'PaymentAuthorized', { orderId: string; authorizationId: string; amount: number; currency: string; at: string }>
  | DomainEvent<'PaymentDeclined', { orderId: string; code: string; detail: string; at: string }>
  | DomainEvent<'OrderReallocated', Reallocation & { at: string }>
  | DomainEvent<'OrderFulfilmentShipped', { orderId: string; fulfilmentId: string; locationId: string; lines: SkuQuantity[]; at: string }>
  | DomainEvent<'OrderFulfilmentDelivered', { orderId: string; fulfilmentId: string; at: string }>
  | DomainEvent<'OrderReadyForPickup', { orderId: string; fulfilmentId: string; locationId: string; code: string; readyAt: string; expiresAt: string; at: string }>
  | DomainEvent<'OrderCollected', { orderId: string; fulfilmentId: string; locationId: string; lines: SkuQuantity[]; at: string }>
  /** Units of the order left `from` for its pickup store `to` with a transfer fulfilment: they are on their way, held nowhere. */
  | DomainEvent<'OrderTransferShipped', TransferLeg & { at: string }>
  /** The transfer arrived at the pickup store; `reserved`: its units are held there for the order (not once the order has closed). */
  | DomainEvent<'OrderTransferReceived', TransferLeg & { reserved: boolean; at: string }>
  /** `fulfilmentId`: the shipment (or collection) this capture is its share for; absent for a capture of the whole order. */
  | DomainEvent<'PaymentCaptured', { orderId: string; captureId: string; amount: number; totalCaptured: number; fulfilmentId?: string; at: string }>
  | DomainEvent<'PaymentVoided', { orderId: string; authorizationId: string; at: string }>
  /** `refundKey`: the refund request this pays (a return's receipt); absent for a closed order's settlement. */
  | DomainEvent<'PaymentRefunded', { orderId: string; refundId: string; amount: number; totalRefunded: number; refundKey?: string; at: string }>
  | DomainEvent<'OrderReturnAuthorized', {
    orderId: string; returnId: string; lines: ReturnLine[]; resolution: ReturnResolution; exchangeLines?: SkuQuantity[]; at: string;
  }>
  /** A refund owed (for a return's receipt), reserved against what was captured: `value` of the units, `shipping` refunded with them. */
  | DomainEvent<'OrderRefundRequested', { orderId: string; refundKey: string; returnId: string; amount: number; value: number; shipping: number; units: number; at: string }>
  | DomainEvent<'OrderRefundFailed', { orderId: string; refundKey: string; code: string; detail: string; at: string }>;

export type ReturnResolution = 'refund' | 'exchange';

/** A returned line: units of one SKU at the price they were sold at (a SKU sold at two prices is two lines). */
export interface ReturnLine { sku: string; quantity: number; unitPrice: number; reason: string }

