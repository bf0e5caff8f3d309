import type { Delivery } from '../orders/order.events.js';
import type {
  CarrierDecision, FulfilmentEvent, FulfilmentEventType, FulfilmentKind, FulfilmentLine, PackageSpec, ShipmentLabel, ShipmentStatus, TrackingUpdate,
} from './fulfilment.events.js';

// A fulfilment's state, folded from its events, and what follows from it.

export const FULFILMENT_STATUSES = [
  'pending', 'picking', 'packed', 'labelled', 'shipped', 'ready_for_pickup', 'collected', 'expired', 'rejected', 'cancelled',
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
  FulfilmentShipped: 'shipped',
  ShipmentTracked: null,
  FulfilmentReadyForPickup: 'ready_for_pickup',
  FulfilmentCollected: 'collected',
  FulfilmentExpired: 'expired',
  FulfilmentCancelled: 'cancelled',
} as const satisfies { [T in FulfilmentEventType]: FulfilmentStatus | null };

export const statusAfter = (event: FulfilmentEvent): FulfilmentStatus | null => STATUS_AFTER[event.type];

/** A tracking update as the fulfilment keeps it: with whether it moved the shipment's status on. */
export type KnownUpdate = Omit<TrackingUpdate, 'carrierId' | 'trackingNumber'> & { moved: boolean };

interface Created {
  fulfilmentId: string;
  orderId: string;
  locationId: string;
  kind: FulfilmentKind;
  /** What the location was asked to pick. */
  lines: FulfilmentLine[];
  delivery: Delivery;
  allocationSeq: number;
  createdAt: string;
}
interface Picked extends Created { pick: { picked: FulfilmentLine[]; short: FulfilmentLine[]; at: string } }
interface Packed extends Picked { packages: PackageSpec[]; carrierDecision?: CarrierDecision }
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
  | (Ready & { status: 'collected'; collectedAt: string })
  | (Ready & { status: 'expired'; expiredAt: string })
  | (Created & { status: 'rejected'; rejection: { reason: string; at: string } })
  /** `was`: the fulfilment as it stood when cancelled (a label bought for it, say). */
  | (Created & { status: 'cancelled'; cancellation: { reason: string; at: string }; was: OpenFulfilment });

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

/** The lines an event hands back to sourcing: what a rejected fulfilment held, or what a pick found short. */
export function linesToResource(event: FulfilmentEvent): FulfilmentLine[] {
  if (event.type === 'FulfilmentRejected') return event.data.lines;
  if (event.type === 'FulfilmentPicked') return event.data.short;
  return [];
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
    const { fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, at } = event.data;
    return { status: STATUS_AFTER.FulfilmentCreated, fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, createdAt: at };
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
      if (state.status !== 'picking') return state;
      return { ...state, status: STATUS_AFTER.FulfilmentPacked, packages: event.data.packages };
    case 'FulfilmentCarrierChosen':
      if (state.status !== 'packed' || state.carrierDecision) return state;
      return { ...state, carrierDecision: event.data.decision };
    case 'FulfilmentLabelled':
      if (state.status !== 'packed') return state;
      return { ...state, status: STATUS_AFTER.FulfilmentLabelled, label: event.data.label, tracking: [] };
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
    default: {
      const unknown: never = event;
      void unknown;
      return state;
    }
  }
}

function created(f: Created): Created {
  const { fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, createdAt } = f;
  return { fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, createdAt };
}
