import type { Delivery } from '../orders/order.events.js';
import type {
  CarrierDecision, FulfilmentEvent, FulfilmentEventType, FulfilmentKind, FulfilmentLine, InboundTransfer, LabelFailure, PackageSpec, ShipmentLabel, ShipmentStatus,
  TrackingUpdate, TransferRoute,
} from './fulfilment.events.js';

// A fulfilment's state, folded from its events, and what follows from it.

export const FULFILMENT_STATUSES = [
  'pending', 'picking', 'packed', 'labelled', 'shipped', 'in_transit', 'received', 'ready_for_pickup', 'collected', 'expired', 'rejected', 'cancelled',
] as const;
export type FulfilmentStatus = (typeof FULFILMENT_STATUSES)[number];

/**
 * The status each event moves a fulfilment to (null: it stays where it is), the one rule for it:
 * evolve builds its states with it and the read model stores what it says.
 */
export const STATUS_AFTER = {
  FulfilmentCreated: 'pending',
  FulfilmentPicked: 'picking',
  FulfilmentRejected: 'rejected',
  FulfilmentPacked: 'packed',
  FulfilmentCarrierChosen: null,
  FulfilmentLabelled: 'labelled',
  LabelPurchaseRefused: null,
  LabelPurchaseFailed: null,
  LabelCancelled: null,
  LabelCancellationRefused: null,
  FulfilmentShipped: 'shipped',
  ShipmentTracked: null,
  FulfilmentReadyForPickup: 'ready_for_pickup',
  FulfilmentCollected: 'collected',
  FulfilmentExpired: 'expired',
  FulfilmentCancelled: 'cancelled',
  TransferShipped: 'in_transit',
  TransferReceived: 'received',
  PickupExtended: null,
  PickupTransferArrived: null,
  PickupTransferDropped: null,
} as const satisfies { [T in FulfilmentEventType]: FulfilmentStatus | null };

export const statusAfter = (event: FulfilmentEvent): FulfilmentStatus | null => STATUS_AFTER[event.type];

/** A tracking update as the fulfilment keeps it: with whether it moved the shipment's status on. */
export type KnownUpdate = Omit<TrackingUpdate, 'carrierId' | 'trackingNumber'> & { moved: boolean };

/** A transfer a pickup holds units of, and what became of it: `lines` are expected while awaited, what came once arrived. */
export interface Inbound extends InboundTransfer { status: 'awaited' | 'arrived' | 'dropped' }

interface Created {
  fulfilmentId: string;
  orderId: string;
  locationId: string;
  kind: FulfilmentKind;
  /** What the location was asked to pick; for a pickup, its own units and those of its transfers not dropped. */
  lines: FulfilmentLine[];
  delivery: Delivery;
  allocationSeq: number;
  createdAt: string;
  /** For a transfer: where its units go. */
  transfer?: TransferRoute;
  /** For a pickup: the transfers that bring it units (none for the others). */
  inbound: Inbound[];
  /** The allocations whose units it holds: its own and those a pickup was extended with. */
  allocationSeqs: number[];
}
interface Picked extends Created { pick: { picked: FulfilmentLine[]; short: FulfilmentLine[]; at: string } }
/**
 * How buying a packed fulfilment's label goes: the carrier choices made so far, the carriers that
 * refused since the last failure was retried, and the failure the last try ended in, if it did.
 */
export interface LabelPurchase { attempts: number; refusedBy: string[]; failure?: LabelFailure }
interface Packed extends Picked { packages: PackageSpec[]; carrierDecision?: CarrierDecision; labelPurchase: LabelPurchase }
interface Labelled extends Packed { label: ShipmentLabel; tracking: KnownUpdate[] }
interface Ready extends Picked { pickup: { code: string; readyAt: string; expiresAt: string } }

/** A fulfilment the location is still working on: it holds the order's stock there. */
export type OpenFulfilment =
  | (Created & { status: 'pending' })
  | (Picked & { status: 'picking' })
  | (Packed & { status: 'packed' })
  | (Labelled & { status: 'labelled' })
  | (Ready & { status: 'ready_for_pickup' });

export type Fulfilment =
  | { status: 'none' }
  | OpenFulfilment
  | (Labelled & { status: 'shipped'; shippedAt: string })
  /** A transfer on its way to the pickup store, and arrived there. */
  | (Packed & { status: 'in_transit'; shippedAt: string })
  | (Packed & { status: 'received'; shippedAt: string; receivedAt: string })
  | (Ready & { status: 'collected'; collectedAt: string })
  | (Ready & { status: 'expired'; expiredAt: string })
  | (Created & { status: 'rejected'; rejection: { reason: string; at: string } })
  /** `was`: the fulfilment as it stood when cancelled (a label bought for it, say); `voiding`: what became of its label at the carrier. */
  | (Created & { status: 'cancelled'; cancellation: { reason: string; at: string }; was: OpenFulfilment; voiding?: LabelVoiding });

/** A cancelled fulfilment's label at its carrier: voided, or the carrier would not void it. */
export type LabelVoiding =
  | { outcome: 'cancelled'; carrierId: string; trackingNumber: string; at: string }
  | { outcome: 'refused'; carrierId: string; trackingNumber: string; code: string; reason: string; at: string };

export type ExistingFulfilment = Exclude<Fulfilment, { status: 'none' }>;

export const initialState: Fulfilment = { status: 'none' };

/** Whether a fulfilment in this status still holds the order's stock at its location. */
export function holdsStock(status: FulfilmentStatus | 'none'): boolean {
  return status === 'pending' || status === 'picking' || status === 'packed' || status === 'labelled' || status === 'ready_for_pickup';
}

export const isOpen = (f: Fulfilment): f is OpenFulfilment => holdsStock(f.status);

/** What the fulfilment still holds at its location for the order: the lines asked for, or once picked what was picked. */
export function heldLines(f: Created | Picked): FulfilmentLine[] {
  return 'pick' in f ? f.pick.picked : f.lines;
}

/** The transfers a pickup still waits for: it is picked and ready only once none is left. */
export const awaitedTransfers = (f: { inbound: readonly Inbound[] }): Inbound[] => f.inbound.filter((t) => t.status === 'awaited');

/**
 * A pickup's transfers and lines after an event that changes them (an extension, a transfer
 * arrived or dropped), the one rule for it: evolve and the read model both fold with it. Null when
 * the event changes nothing (a transfer not awaited).
 */
export function inboundAfter(inbound: readonly Inbound[], lines: readonly FulfilmentLine[], event: FulfilmentEvent): { inbound: Inbound[]; lines: FulfilmentLine[] } | null {
  if (event.type === 'PickupExtended') {
    return { inbound: [...inbound, ...event.data.inbound.map((t): Inbound => ({ ...t, status: 'awaited' }))], lines: plusLines(lines, event.data.lines) };
  }
  if (event.type !== 'PickupTransferArrived' && event.type !== 'PickupTransferDropped') return null;
  const t = inbound.find((x) => x.fulfilmentId === event.data.transferId && x.status === 'awaited');
  if (!t) return null;
  const [status, came] = event.type === 'PickupTransferArrived' ? ['arrived' as const, event.data.lines] : ['dropped' as const, []];
  return {
    inbound: inbound.map((x) => (x === t ? { ...x, status, lines: status === 'arrived' ? came : x.lines } : x)),
    lines: minusLines(lines, minusLines(t.lines, came)),
  };
}

/** Lines added up per SKU, in the order each SKU first appears. */
export function plusLines(a: readonly FulfilmentLine[], b: readonly FulfilmentLine[]): FulfilmentLine[] {
  const bySku = new Map<string, number>();
  for (const l of [...a, ...b]) bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + l.quantity);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity }));
}

/** `a` less `b` per SKU; a line with nothing left is dropped. */
export function minusLines(a: readonly FulfilmentLine[], b: readonly FulfilmentLine[]): FulfilmentLine[] {
  const less = new Map<string, number>();
  for (const l of b) less.set(l.sku, (less.get(l.sku) ?? 0) + l.quantity);
  return a.map((l) => ({ sku: l.sku, quantity: l.quantity - (less.get(l.sku) ?? 0) })).filter((l) => l.quantity > 0);
}

/** The lines an event hands back to sourcing: what a rejected fulfilment held, or what a pick found short. */
export function linesToResource(event: FulfilmentEvent): FulfilmentLine[] {
  if (event.type === 'FulfilmentRejected') return event.data.lines;
  if (event.type === 'FulfilmentPicked') return event.data.short;
  return [];
}

/**
 * The failure a label purchase stands at after an event, the one rule for it (evolve and the read
 * model): recorded by a failure; a carrier choice, a refusal, a label or a new packing after it
 * means the label is being bought again.
 */
export function labelFailureAfter(failure: LabelFailure | undefined, event: FulfilmentEvent): LabelFailure | undefined {
  switch (event.type) {
    case 'LabelPurchaseFailed': {
      const { attempt, carrierId, code, reason, refusedBy } = event.data;
      return { attempt, carrierId, code, reason, refusedBy };
    }
    case 'FulfilmentPacked':
    case 'FulfilmentCarrierChosen':
    case 'LabelPurchaseRefused':
    case 'FulfilmentLabelled':
      return undefined;
    default:
      return failure;
  }
}

/** Whether a packed fulfilment may be packed again: its label purchase failed and no carrier choice holds, so nothing can have been bought. */
export function mayRepack(f: Packed): boolean {
  return f.carrierDecision === undefined && f.labelPurchase.failure !== undefined;
}

/** The carriers a new choice for this fulfilment leaves out: those that refused it, unless a failure since is being retried (then every carrier is tried again). */
export function carriersToSkip(purchase: LabelPurchase): string[] {
  return purchase.failure ? [] : purchase.refusedBy;
}

/** The shipment's status from its tracking history, the one rule for it: the newest update that moved it, else `label_created`. */
export function shipmentStatusOf(history: readonly { status: ShipmentStatus; moved: boolean }[]): ShipmentStatus {
  for (let i = history.length - 1; i >= 0; i--) if (history[i].moved) return history[i].status;
  return 'label_created';
}

/** The fulfilment's shipment status, or null while it has no label. */
export function shipmentStatus(f: Fulfilment): ShipmentStatus | null {
  if (f.status === 'labelled' || f.status === 'shipped') return shipmentStatusOf(f.tracking);
  if (f.status === 'cancelled' && f.was.status === 'labelled') return shipmentStatusOf(f.was.tracking);
  return null;
}

/** An update moves the status on unless an update with a later carrier time is already known. */
export function movesOn(history: readonly { at: string }[], at: string): boolean {
  const t = Date.parse(at);
  return history.every((u) => Date.parse(u.at) <= t);
}

/** The same update again: the same status at the same instant. */
export function knownUpdate(history: readonly { status: ShipmentStatus; at: string }[], update: { status: ShipmentStatus; at: string }): boolean {
  const t = Date.parse(update.at);
  return history.some((u) => u.status === update.status && Date.parse(u.at) === t);
}

export function evolve(state: Fulfilment, event: FulfilmentEvent): Fulfilment {
  if (event.type === 'FulfilmentCreated') {
    if (state.status !== 'none') return state;
    const { fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, at, transfer, inbound } = event.data;
    return {
      status: STATUS_AFTER.FulfilmentCreated, fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, createdAt: at,
      ...(transfer ? { transfer } : {}), inbound: (inbound ?? []).map((t): Inbound => ({ ...t, status: 'awaited' })), allocationSeqs: [allocationSeq],
    };
  }
  switch (event.type) {
    case 'FulfilmentPicked': {
      if (state.status !== 'pending') return state;
      const { picked, short, at } = event.data;
      return { ...state, status: STATUS_AFTER.FulfilmentPicked, pick: { picked, short, at } };
    }
    case 'FulfilmentRejected': {
      if (state.status !== 'pending' && state.status !== 'picking') return state;
      return { ...created(state), status: STATUS_AFTER.FulfilmentRejected, rejection: { reason: event.data.reason, at: event.data.at } };
    }
    case 'FulfilmentPacked':
      if (state.status === 'picking') return { ...state, status: STATUS_AFTER.FulfilmentPacked, packages: event.data.packages, labelPurchase: { attempts: 0, refusedBy: [] } };
      if (state.status === 'packed' && mayRepack(state)) {
        return { ...state, packages: event.data.packages, labelPurchase: { attempts: state.labelPurchase.attempts, refusedBy: [] } };
      }
      return state;
    case 'FulfilmentCarrierChosen': {
      if (state.status !== 'packed' || state.carrierDecision) return state;
      const { decision } = event.data;
      return { ...state, carrierDecision: decision, labelPurchase: { attempts: decision.attempt, refusedBy: carriersToSkip(state.labelPurchase) } };
    }
    case 'LabelPurchaseRefused': {
      if (state.status !== 'packed' || state.carrierDecision?.attempt !== event.data.attempt) return state;
      const { carrierDecision: _refused, ...rest } = state;
      const { attempts, refusedBy } = state.labelPurchase;
      return { ...rest, labelPurchase: { attempts, refusedBy: [...refusedBy, event.data.carrierId] } };
    }
    case 'LabelPurchaseFailed': {
      if (state.status !== 'packed') return state;
      return { ...state, labelPurchase: { ...state.labelPurchase, failure: labelFailureAfter(state.labelPurchase.failure, event) } };
    }
    case 'FulfilmentLabelled': {
      if (state.status !== 'packed') return state;
      const { attempts, refusedBy } = state.labelPurchase;
      return { ...state, status: STATUS_AFTER.FulfilmentLabelled, label: event.data.label, tracking: [], labelPurchase: { attempts, refusedBy } };
    }
    case 'FulfilmentShipped':
      if (state.status !== 'labelled') return state;
      return { ...state, status: STATUS_AFTER.FulfilmentShipped, shippedAt: event.data.at };
    case 'ShipmentTracked': {
      if (state.status !== 'labelled' && state.status !== 'shipped') return state;
      const { status, at, detail, location, moved } = event.data;
      const update: KnownUpdate = { status, at, ...(detail === undefined ? {} : { detail }), ...(location === undefined ? {} : { location }), moved };
      return { ...state, tracking: [...state.tracking, update] };
    }
    case 'FulfilmentReadyForPickup': {
      if (state.status !== 'picking') return state;
      const { code, readyAt, expiresAt } = event.data;
      return { ...state, status: STATUS_AFTER.FulfilmentReadyForPickup, pickup: { code, readyAt, expiresAt } };
    }
    case 'FulfilmentCollected':
      if (state.status !== 'ready_for_pickup') return state;
      return { ...state, status: STATUS_AFTER.FulfilmentCollected, collectedAt: event.data.at };
    case 'FulfilmentExpired':
      if (state.status !== 'ready_for_pickup') return state;
      return { ...state, status: STATUS_AFTER.FulfilmentExpired, expiredAt: event.data.at };
    case 'FulfilmentCancelled': {
      if (!isOpen(state)) return state;
      return { ...created(state), status: STATUS_AFTER.FulfilmentCancelled, cancellation: { reason: event.data.reason, at: event.data.at }, was: state };
    }
    case 'LabelCancelled': {
      if (state.status !== 'cancelled') return state;
      const { carrierId, trackingNumber, at } = event.data;
      return { ...state, voiding: { outcome: 'cancelled', carrierId, trackingNumber, at } };
    }
    case 'LabelCancellationRefused': {
      if (state.status !== 'cancelled' || state.voiding?.outcome === 'cancelled') return state;
      const { carrierId, trackingNumber, code, reason, at } = event.data;
      return { ...state, voiding: { outcome: 'refused', carrierId, trackingNumber, code, reason, at } };
    }
    case 'TransferShipped':
      if (state.status !== 'packed' || state.kind !== 'transfer') return state;
      return { ...state, status: STATUS_AFTER.TransferShipped, shippedAt: event.data.at };
    case 'TransferReceived':
      if (state.status !== 'in_transit') return state;
      return { ...state, status: STATUS_AFTER.TransferReceived, receivedAt: event.data.at };
    case 'PickupExtended':
    case 'PickupTransferArrived':
    case 'PickupTransferDropped': {
      if (state.status !== 'pending') return state;
      if (event.type === 'PickupExtended' && state.allocationSeqs.includes(event.data.allocationSeq)) return state;
      const next = inboundAfter(state.inbound, state.lines, event);
      if (!next) return state;
      const allocationSeqs = event.type === 'PickupExtended' ? [...state.allocationSeqs, event.data.allocationSeq] : state.allocationSeqs;
      return { ...state, ...next, allocationSeqs };
    }
    default: {
      const unknown: never = event;
      void unknown;
      return state;
    }
  }
}

function created(f: Created): Created {
  const { fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, createdAt, transfer, inbound, allocationSeqs } = f;
  return { fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, createdAt, ...(transfer ? { transfer } : {}), inbound, allocationSeqs };
}
