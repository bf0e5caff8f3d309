import type { DomainEvent } from '../decider.js';
import type { Delivery } from '../orders/order.events.js';

// The work one location does for one allocation of an order: pick, then pack, label and ship it,
// or hold it at the counter for the customer to collect, or pack it and send it to the pickup
// store (a transfer) for the store's pickup fulfilment to hold.

export type FulfilmentKind = 'ship' | 'pickup' | 'transfer';

export interface FulfilmentLine { sku: string; quantity: number }

/** Where a transfer fulfilment sends its units: the pickup store, and the pickup fulfilment there that waits for them. */
export interface TransferRoute { to: string; pickupFulfilmentId: string }

/** A transfer a pickup fulfilment waits for: the transfer fulfilment (`fulfilmentId`), where it comes from and what it brings. */
export interface InboundTransfer { fulfilmentId: string; from: string; lines: FulfilmentLine[] }

export interface PackageSpec { weightGrams: number; lengthCm: number; widthCm: number; heightCm: number; lines: FulfilmentLine[] }

export interface Quote { carrierId: string; service: string; amount: number; currency: string; transitDays: number; estimatedDelivery: string }

/** Why a carrier and service were chosen: every quote considered and the carriers that did not answer in time. */
export interface CarrierChoice { why: string; quotes: Quote[]; unavailable: string[] }

/** A label bought from a carrier; one shipment per fulfilment, so `shipmentId` is the fulfilment's id. */
export interface ShipmentLabel {
  shipmentId: string;
  carrierId: string;
  service: string;
  trackingNumber: string;
  labelUrl: string;
  cost: number;
  currency: string;
  estimatedDelivery: string;
  choice: CarrierChoice;
}

/**
 * The carrier a packed fulfilment's label is bought from, with what it is bought for, recorded
 * before anything is bought: a retried purchase asks the same carrier the same thing under the
 * same key, so a lost answer or a killed worker never buys a second label elsewhere.
 */
export interface CarrierDecision {
  /** Which purchase this is for the fulfilment (1 for the first): a choice made after a carrier refused is the next one, bought under a key of its own. */
  attempt: number;
  quote: Quote;
  choice: CarrierChoice;
  from: { locationId: string; geo: { lat: number; lon: number }; cutoffHour: number };
  readyAt: string;
}

/**
 * Why no label could be bought without an operator: `no_carrier` (every carrier answered and none
 * can take the packages, or each one that could refused), `retries_exhausted` (carriers down or
 * answers lost past the job's retries: a carrier chosen may have made the label, so its choice
 * holds), `carrier_not_configured` (the carrier chosen is no longer configured; its choice holds),
 * `key_conflict` (the carrier holds another request under the purchase's key; its choice holds).
 */
export type LabelFailureCode = 'no_carrier' | 'retries_exhausted' | 'carrier_not_configured' | 'key_conflict';

/** The purchase a failure ended (the number of carrier choices made so far), the carrier it was at, and the carriers that had refused. */
export interface LabelFailure { attempt: number; carrierId: string | null; code: LabelFailureCode; reason: string; refusedBy: string[] }

export const SHIPMENT_STATUSES = ['label_created', 'in_transit', 'out_for_delivery', 'delivered', 'exception', 'returned_to_sender'] as const;
export type ShipmentStatus = (typeof SHIPMENT_STATUSES)[number];

/** What a carrier reports about a shipment; `at` is the carrier's time of the scan. */
export interface TrackingUpdate {
  carrierId: string;
  trackingNumber: string;
  status: ShipmentStatus;
  at: string;
  detail?: string;
  location?: string;
}

type Ids = { fulfilmentId: string; orderId: string; locationId: string; at: string };

export type FulfilmentEvent =
  /**
   * `lines`: everything the fulfilment is to hold; for a pickup, its own units and those of its
   * `inbound` transfers (absent: none). A transfer has its `transfer` route.
   */
  | DomainEvent<'FulfilmentCreated', Ids & {
    kind: FulfilmentKind; lines: FulfilmentLine[]; delivery: Delivery; allocationSeq: number; transfer?: TransferRoute; inbound?: InboundTransfer[];
  }>
  /** What was picked; `short` are the units asked for and not found (a line picked in part is in both). */
  | DomainEvent<'FulfilmentPicked', Ids & { picked: FulfilmentLine[]; short: FulfilmentLine[] }>
  /** `lines`: what the fulfilment still held at the location, to be sourced elsewhere. */
  | DomainEvent<'FulfilmentRejected', Ids & { reason: string; lines: FulfilmentLine[] }>
  | DomainEvent<'FulfilmentPacked', Ids & { packages: PackageSpec[] }>
  | DomainEvent<'FulfilmentCarrierChosen', Ids & { decision: CarrierDecision }>
  | DomainEvent<'FulfilmentLabelled', Ids & { label: ShipmentLabel }>
  /** The carrier chosen for purchase `attempt` refused it for good (a definite no, never a lost answer): that choice no longer holds, and the label is shopped for again without this carrier. */
  | DomainEvent<'LabelPurchaseRefused', Ids & { attempt: number; carrierId: string; service: string; code: string; reason: string }>
  /** The label job gave up: the fulfilment stays packed, waiting for an operator to retry the job or pack it again. */
  | DomainEvent<'LabelPurchaseFailed', Ids & LabelFailure>
  /** The label of a fulfilment cancelled before its handover was voided at its carrier. */
  | DomainEvent<'LabelCancelled', Ids & { carrierId: string; trackingNumber: string }>
  /** The carrier would not void a cancelled fulfilment's label (the parcel was handed over, say). */
  | DomainEvent<'LabelCancellationRefused', Ids & { carrierId: string; trackingNumber: string; code: string; reason: string }>
  | DomainEvent<'FulfilmentShipped', Ids & { lines: FulfilmentLine[]; trackingNumber: string; carrierId: string }>
  /** Every new update is kept; `moved` says whether it moved the shipment's status on (an update older than the newest known does not). */
  | DomainEvent<'ShipmentTracked', TrackingUpdate & { fulfilmentId: string; orderId: string; shipmentId: string; moved: boolean }>
  | DomainEvent<'FulfilmentReadyForPickup', Ids & { code: string; readyAt: string; expiresAt: string }>
  | DomainEvent<'FulfilmentCollected', Ids & { lines: FulfilmentLine[] }>
  | DomainEvent<'FulfilmentExpired', Ids & { lines: FulfilmentLine[] }>
  | DomainEvent<'FulfilmentCancelled', Ids & { reason: string }>
  /** A transfer handed to the store replenishment run: its picked units leave for the pickup store. */
  | DomainEvent<'TransferShipped', Ids & TransferRoute & { lines: FulfilmentLine[] }>
  /** A transfer received at the pickup store. */
  | DomainEvent<'TransferReceived', Ids & TransferRoute & { lines: FulfilmentLine[] }>
  /** A re-allocation's part for the pickup store joins a pickup not picked yet: `lines` its own units and those of its `inbound` transfers. */
  | DomainEvent<'PickupExtended', Ids & { allocationSeq: number; lines: FulfilmentLine[]; inbound: InboundTransfer[] }>
  /** A transfer the pickup waited for arrived with `lines` (what was sent: no more than expected). */
  | DomainEvent<'PickupTransferArrived', Ids & { transferId: string; from: string; lines: FulfilmentLine[] }>
  /** A transfer the pickup waited for will not come (rejected, or nothing found to send); `lines` were expected from it. */
  | DomainEvent<'PickupTransferDropped', Ids & { transferId: string; from: string; lines: FulfilmentLine[]; reason: string }>;

export type FulfilmentEventType = FulfilmentEvent['type'];
