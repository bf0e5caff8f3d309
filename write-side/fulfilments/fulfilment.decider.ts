import { v5 as uuidv5 } from 'uuid';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import type { Command, Decider, DomainEvent } from '../decider.js';
import type { Delivery } from '../orders/order.events.js';
import type {
  CarrierDecision, FulfilmentEvent, FulfilmentKind, FulfilmentLine, InboundTransfer, LabelFailureCode, PackageSpec, ShipmentLabel, TrackingUpdate, TransferRoute,
} from './fulfilment.events.js';
import {
  existing, ids, mustBePickup, mustLeave, mustShip, refuseAwaiting, refuseEnded, samePackages, sameLines, totals, validInbound, validLines, validPackages, validUpdate,
} from './fulfilment.rules.js';
import { evolve, heldLines, initialState, knownUpdate, mayRepack, movesOn, type Fulfilment } from './fulfilment.state.js';
import { dropTransfer, extendPickup, receiveTransfer, recordTransferArrival, shipTransfer } from './transfer.decisions.js';

type Id = { fulfilmentId: string };

/** `lines`: all the fulfilment is to hold (a pickup's own units and its `inbound` transfers'); a transfer names its `transfer` route. */
export type CreateFulfilmentData = Id & {
  orderId: string; locationId: string; kind: FulfilmentKind; lines: FulfilmentLine[]; delivery: Delivery; allocationSeq: number;
  transfer?: TransferRoute; inbound?: InboundTransfer[];
};

export type FulfilmentCommand =
  | Command<'CreateFulfilment', CreateFulfilmentData>
  | Command<'RecordPick', Id & { lines: FulfilmentLine[] }>
  | Command<'RejectFulfilment', Id & { reason: string }>
  | Command<'PackFulfilment', Id & { packages: PackageSpec[] }>
  | Command<'RecordCarrierChoice', Id & { decision: CarrierDecision }>
  | Command<'RecordLabel', Id & { label: ShipmentLabel }>
  | Command<'RecordLabelRefusal', Id & { attempt: number; carrierId: string; service: string; code: string; reason: string }>
  | Command<'RecordLabelFailure', Id & { carrierId: string | null; code: LabelFailureCode; reason: string }>
  | Command<'RecordLabelCancellation', Id & { carrierId: string; trackingNumber: string }>
  | Command<'RecordLabelCancellationRefusal', Id & { carrierId: string; trackingNumber: string; code: string; reason: string }>
  /** A shipment handed to its carrier once labelled; a transfer handed to the store replenishment run once packed. */
  | Command<'ShipFulfilment', Id>
  | Command<'ReceiveTransfer', Id>
  /** Adds a re-allocation's part for the pickup store (`lines`: its own units and its `inbound` transfers') to a pickup not picked yet. */
  | Command<'ExtendPickup', Id & { allocationSeq: number; lines: FulfilmentLine[]; inbound: InboundTransfer[] }>
  | Command<'RecordTransferArrival', Id & { transferId: string; lines: FulfilmentLine[] }>
  | Command<'DropTransfer', Id & { transferId: string; reason: string }>
  | Command<'RecordTracking', Id & { update: TrackingUpdate }>
  | Command<'MarkReadyForPickup', Id & { code: string; expiresAt: string }>
  | Command<'CollectFulfilment', Id & { code: string }>
  | Command<'ExpirePickup', Id>
  | Command<'CancelFulfilment', Id & { reason: string }>;

export const fulfilmentStream = (fulfilmentId: string): string => `fulfilment-${fulfilmentId}`;

const FULFILMENT_NAMESPACE = 'a5ab7901-ae33-4bdb-addc-b6c22ccd49e7';

/** One allocation of an order at one location always makes the same fulfilment; allocationSeq is 0 for the first allocation, n for the n-th re-allocation. */
export function fulfilmentIdFor(orderId: string, allocationSeq: number, locationId: string): string {
  return uuidv5(`${orderId}\u0000${allocationSeq}\u0000${locationId}`, FULFILMENT_NAMESPACE);
}

/** Carrier choices recorded before purchases were numbered were each a fulfilment's first. */
export function withPurchaseAttempt(event: DomainEvent): DomainEvent {
  const data = event.data as { decision: Partial<CarrierDecision> };
  return data.decision.attempt === undefined ? { type: event.type, data: { ...data, decision: { attempt: 1, ...data.decision } } } : event;
}

const TRANSFER_NAMESPACE = '0d6f3f5e-2b7a-4c1e-9f4d-8a3b6c2e7f10';

/** The stock transfer that carries one SKU of a transfer fulfilment to the pickup store (a ledger is per SKU). */
export function transferIdFor(fulfilmentId: string, sku: string): string {
  return uuidv5(`${fulfilmentId}\u0000${sku}`, TRANSFER_NAMESPACE);
}

/** How one kind of command is decided on the fulfilment's state. */
export type Decide<T extends FulfilmentCommand['type']> = (command: Extract<FulfilmentCommand, { type: T }>, state: Fulfilment) => FulfilmentEvent[];

const createFulfilment: Decide<'CreateFulfilment'> = (command, state) => {
  if (state.status !== 'none') return [];                              // the process manager again
  const { fulfilmentId, orderId, locationId, kind, delivery, allocationSeq, transfer } = command.data;
  const lines = validLines(command.data.lines, '/lines', 1);
  if (lines.length === 0) throw new ValidationError('fulfilment.no_lines', 'A fulfilment has one line or more', [{ path: '/lines', message: 'no lines' }]);
  if (!Number.isInteger(allocationSeq) || allocationSeq < 0) {
    throw new ValidationError('fulfilment.invalid_allocation_seq', 'allocationSeq is a whole number of zero or more', [{ path: '/allocationSeq', message: String(allocationSeq) }]);
  }
  if ((kind === 'transfer') !== (transfer !== undefined) || (transfer && transfer.to === locationId)) {
    throw new ValidationError('fulfilment.invalid_transfer', 'A transfer, and only a transfer, goes to another location', [{ path: '/transfer', message: 'a transfer names its pickup store' }]);
  }
  const inbound = command.data.inbound ?? [];
  if (inbound.length > 0 && kind !== 'pickup') {
    throw new ValidationError('fulfilment.invalid_transfer', 'Only a pickup waits for transfers', [{ path: '/inbound', message: `a ${kind} has none` }]);
  }
  const transfers = validInbound(inbound, lines);
  return [{
    type: 'FulfilmentCreated',
    data: {
      fulfilmentId, orderId, locationId, kind, lines, delivery, allocationSeq, ...(transfer ? { transfer } : {}), ...(transfers.length > 0 ? { inbound: transfers } : {}),
      at: command.metadata.now,
    },
  }];
};

const recordPick: Decide<'RecordPick'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  if (f.status === 'pending') refuseAwaiting(f, 'picked');
  const counted = new Map(validLines(command.data.lines, '/lines', 0).map((l) => [l.sku, l.quantity]));
  const asked = new Map(f.lines.map((l) => [l.sku, l.quantity]));
  for (const [sku, quantity] of counted) {
    if (quantity > (asked.get(sku) ?? 0)) {
      throw new ConflictError('fulfilment.pick_exceeds_lines', `${quantity} of ${sku} picked, ${asked.get(sku) ?? 0} asked for in fulfilment ${f.fulfilmentId}`);
    }
  }
  const picked = f.lines.map((l) => ({ sku: l.sku, quantity: counted.get(l.sku) ?? 0 })).filter((l) => l.quantity > 0);
  const short = f.lines.map((l) => ({ sku: l.sku, quantity: l.quantity - (counted.get(l.sku) ?? 0) })).filter((l) => l.quantity > 0);
  if ('pick' in f && sameLines(f.pick.picked, picked)) return [];    // the same pick again
  refuseEnded(f);
  if (f.status !== 'pending') throw new ConflictError('fulfilment.already_picked', `Fulfilment ${f.fulfilmentId} was already picked with other quantities`);
  return [{ type: 'FulfilmentPicked', data: { ...ids(f, command.metadata.now), picked, short } }];
};

const rejectFulfilment: Decide<'RejectFulfilment'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  if (f.status === 'rejected') return [];
  refuseEnded(f);
  if (f.status !== 'pending' && f.status !== 'picking') {
    throw new ConflictError('fulfilment.too_late_to_reject', `Fulfilment ${f.fulfilmentId} is ${f.status}: it can only be rejected before it is packed`);
  }
  refuseAwaiting(f, 'rejected');
  return [{ type: 'FulfilmentRejected', data: { ...ids(f, command.metadata.now), reason: command.data.reason, lines: heldLines(f) } }];
};

const packFulfilment: Decide<'PackFulfilment'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustLeave(f);
  const packages = validPackages(command.data.packages);
  // Packed again after its label purchase failed, with nothing bought: the label job tries again.
  const again = f.status === 'packed' && mayRepack(f);
  if ('packages' in f && samePackages(f.packages, packages) && !again) return [];
  refuseEnded(f);
  if (f.status === 'pending') throw new ConflictError('fulfilment.not_picked', `Fulfilment ${f.fulfilmentId} has not been picked`);
  if (f.status !== 'picking' && !(f.status === 'packed' && again)) {
    throw new ConflictError('fulfilment.already_packed', f.status === 'packed' && f.carrierDecision
      ? `Fulfilment ${f.fulfilmentId} has a label on its way from ${f.carrierDecision.quote.carrierId}: it cannot be packed otherwise`
      : `Fulfilment ${f.fulfilmentId} was already packed in other packages`);
  }
  if (f.pick.picked.length === 0) throw new ConflictError('fulfilment.nothing_picked', `Nothing was picked for fulfilment ${f.fulfilmentId}`);
  const packed = totals(packages.flatMap((p) => p.lines));
  const picked = totals(f.pick.picked);
  for (const [sku, quantity] of packed) {
    if (quantity > (picked.get(sku) ?? 0)) {
      throw new ConflictError('fulfilment.packed_more_than_picked', `${quantity} of ${sku} packed, ${picked.get(sku) ?? 0} picked`);
    }
  }
  for (const [sku, quantity] of picked) {
    if (quantity > (packed.get(sku) ?? 0)) throw new ConflictError('fulfilment.not_all_packed', `${quantity} of ${sku} picked, ${packed.get(sku) ?? 0} packed`);
  }
  return [{ type: 'FulfilmentPacked', data: { ...ids(f, command.metadata.now), packages } }];
};

/**
 * The first carrier choice recorded for a packed fulfilment holds; another one later records
 * nothing. A choice for a purchase other than the next one was made before a refusal it did not
 * see: refused with 409, to be made again.
 */
const recordCarrierChoice: Decide<'RecordCarrierChoice'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustShip(f);
  if ('carrierDecision' in f && f.carrierDecision) return [];
  if ('label' in f) return [];
  refuseEnded(f);
  if (f.status !== 'packed') throw new ConflictError('fulfilment.not_packed', `Fulfilment ${f.fulfilmentId} is ${f.status}, not packed`);
  const { decision } = command.data;
  if (decision.attempt !== f.labelPurchase.attempts + 1) {
    throw new ConflictError('fulfilment.stale_carrier_choice', `A choice for purchase ${decision.attempt} of fulfilment ${f.fulfilmentId}, which is at purchase ${f.labelPurchase.attempts + 1}`);
  }
  return [{ type: 'FulfilmentCarrierChosen', data: { ...ids(f, command.metadata.now), decision } }];
};

/** The carrier chosen for a purchase refused it: that choice no longer holds. The same refusal again, or one for a choice no longer held, records nothing. */
const recordLabelRefusal: Decide<'RecordLabelRefusal'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustShip(f);
  if ('label' in f) return [];
  refuseEnded(f);
  if (f.status !== 'packed') throw new ConflictError('fulfilment.not_packed', `Fulfilment ${f.fulfilmentId} is ${f.status}, not packed`);
  const { attempt, carrierId, service, code, reason } = command.data;
  if (f.carrierDecision?.attempt !== attempt || f.carrierDecision.quote.carrierId !== carrierId) return [];
  return [{ type: 'LabelPurchaseRefused', data: { ...ids(f, command.metadata.now), attempt, carrierId, service, code, reason } }];
};

/** The label job gave up on a packed fulfilment; the same failure again records nothing, and a fulfilment labelled meanwhile needs none. */
const recordLabelFailure: Decide<'RecordLabelFailure'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustShip(f);
  if ('label' in f) return [];
  refuseEnded(f);
  if (f.status !== 'packed') throw new ConflictError('fulfilment.not_packed', `Fulfilment ${f.fulfilmentId} is ${f.status}, not packed`);
  const { carrierId, code, reason } = command.data;
  const { attempts, refusedBy, failure } = f.labelPurchase;
  if (failure && failure.attempt === attempts && failure.code === code && failure.carrierId === carrierId) return [];
  return [{ type: 'LabelPurchaseFailed', data: { ...ids(f, command.metadata.now), attempt: attempts, carrierId, code, reason, refusedBy } }];
};

/** A cancelled fulfilment's label voided at its carrier; recorded once. */
const recordLabelCancellation: Decide<'RecordLabelCancellation'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  if (f.status !== 'cancelled') throw new ConflictError('fulfilment.not_cancelled', `Fulfilment ${f.fulfilmentId} is ${f.status}: only a cancelled fulfilment's label is voided`);
  if (f.voiding?.outcome === 'cancelled') return [];
  const { carrierId, trackingNumber } = command.data;
  return [{ type: 'LabelCancelled', data: { ...ids(f, command.metadata.now), carrierId, trackingNumber } }];
};

/** The carrier would not void a cancelled fulfilment's label; recorded once, and not after the label was voided. */
const recordLabelCancellationRefusal: Decide<'RecordLabelCancellationRefusal'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  if (f.status !== 'cancelled') throw new ConflictError('fulfilment.not_cancelled', `Fulfilment ${f.fulfilmentId} is ${f.status}: only a cancelled fulfilment's label is voided`);
  const { carrierId, trackingNumber, code, reason } = command.data;
  if (f.voiding?.outcome === 'cancelled' || (f.voiding?.outcome === 'refused' && f.voiding.code === code)) return [];
  return [{ type: 'LabelCancellationRefused', data: { ...ids(f, command.metadata.now), carrierId, trackingNumber, code, reason } }];
};

const recordLabel: Decide<'RecordLabel'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustShip(f);
  const { label } = command.data;
  if (label.shipmentId !== f.fulfilmentId) {
    throw new ConflictError('fulfilment.wrong_shipment', `Label for shipment ${label.shipmentId} recorded on fulfilment ${f.fulfilmentId}`);
  }
  if ('label' in f) {
    if (f.label.carrierId === label.carrierId && f.label.trackingNumber === label.trackingNumber) return [];   // a retried label job
    throw new ConflictError('fulfilment.already_labelled', `Fulfilment ${f.fulfilmentId} already has label ${f.label.trackingNumber} from ${f.label.carrierId}`);
  }
  refuseEnded(f);
  if (f.status !== 'packed') throw new ConflictError('fulfilment.not_packed', `Fulfilment ${f.fulfilmentId} is ${f.status}, not packed`);
  return [{ type: 'FulfilmentLabelled', data: { ...ids(f, command.metadata.now), label } }];
};

const shipFulfilment: Decide<'ShipFulfilment'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  if (f.kind === 'transfer') return shipTransfer(f, command.metadata.now);
  mustShip(f);
  if (f.status === 'shipped') return [];
  refuseEnded(f);
  if (f.status !== 'labelled') throw new ConflictError('fulfilment.not_labelled', `Fulfilment ${f.fulfilmentId} is ${f.status}: it ships once labelled`);
  const { trackingNumber, carrierId } = f.label;
  return [{ type: 'FulfilmentShipped', data: { ...ids(f, command.metadata.now), lines: f.pick.picked, trackingNumber, carrierId } }];
};

const recordTracking: Decide<'RecordTracking'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustShip(f);
  const update = validUpdate(command.data.update);
  if (f.status !== 'labelled' && f.status !== 'shipped') {
    refuseEnded(f);
    throw new ConflictError('fulfilment.not_labelled', `Fulfilment ${f.fulfilmentId} is ${f.status}: it has no label to track`);
  }
  if (update.carrierId !== f.label.carrierId || update.trackingNumber !== f.label.trackingNumber) {
    throw new ConflictError('fulfilment.wrong_tracking_number', `Fulfilment ${f.fulfilmentId} ships as ${f.label.trackingNumber} with ${f.label.carrierId}`);
  }
  if (knownUpdate(f.tracking, update)) return [];                      // the same webhook, or a poll, again
  const moved = movesOn(f.tracking, update.at);
  return [{ type: 'ShipmentTracked', data: { fulfilmentId: f.fulfilmentId, orderId: f.orderId, shipmentId: f.label.shipmentId, ...update, moved } }];
};

const markReadyForPickup: Decide<'MarkReadyForPickup'> = (command, state) => {
  const at = command.metadata.now;
  const f = existing(state, command.data.fulfilmentId);
  mustBePickup(f);
  const { code, expiresAt } = command.data;
  if (typeof code !== 'string' || code.length === 0) throw new ValidationError('fulfilment.invalid_code', 'A pickup code is required', [{ path: '/code', message: 'empty' }]);
  if (!(Date.parse(expiresAt) > Date.parse(at))) {
    throw new ValidationError('fulfilment.invalid_expiry', 'A pickup expires after it is ready', [{ path: '/expiresAt', message: `${expiresAt} is not after ${at}` }]);
  }
  if (f.status === 'ready_for_pickup') return [];                    // its code and expiry stand
  refuseEnded(f);
  refuseAwaiting(f, 'ready for pickup');
  if (f.status !== 'picking') throw new ConflictError('fulfilment.not_picked', `Fulfilment ${f.fulfilmentId} has not been picked`);
  if (f.pick.picked.length === 0) throw new ConflictError('fulfilment.nothing_picked', `Nothing was picked for fulfilment ${f.fulfilmentId}`);
  return [{ type: 'FulfilmentReadyForPickup', data: { ...ids(f, at), code, readyAt: at, expiresAt } }];
};

const collectFulfilment: Decide<'CollectFulfilment'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustBePickup(f);
  if ('pickup' in f) {
    if (command.data.code !== f.pickup.code) throw new ConflictError('fulfilment.wrong_code', 'The pickup code does not match');
    if (f.status === 'collected') return [];
  }
  refuseEnded(f);
  if (f.status !== 'ready_for_pickup') throw new ConflictError('fulfilment.not_ready', `Fulfilment ${f.fulfilmentId} is ${f.status}, not ready for pickup`);
  return [{ type: 'FulfilmentCollected', data: { ...ids(f, command.metadata.now), lines: f.pick.picked } }];
};

const expirePickup: Decide<'ExpirePickup'> = (command, state) => {
  const now = command.metadata.now;
  const f = existing(state, command.data.fulfilmentId);
  mustBePickup(f);
  if (f.status === 'expired') return [];
  refuseEnded(f);
  if (f.status !== 'ready_for_pickup') throw new ConflictError('fulfilment.not_ready', `Fulfilment ${f.fulfilmentId} is ${f.status}, not ready for pickup`);
  if (Date.parse(now) < Date.parse(f.pickup.expiresAt)) {
    throw new ConflictError('fulfilment.not_yet_expired', `Fulfilment ${f.fulfilmentId} can be collected until ${f.pickup.expiresAt}`);
  }
  return [{ type: 'FulfilmentExpired', data: { ...ids(f, now), lines: f.pick.picked } }];
};

const cancelFulfilment: Decide<'CancelFulfilment'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  if (f.status === 'cancelled') return [];
  refuseEnded(f);
  return [{ type: 'FulfilmentCancelled', data: { ...ids(f, command.metadata.now), reason: command.data.reason } }];
};

const decisions: { [T in FulfilmentCommand['type']]: Decide<T> } = {
  CreateFulfilment: createFulfilment,
  RecordPick: recordPick,
  RejectFulfilment: rejectFulfilment,
  PackFulfilment: packFulfilment,
  RecordCarrierChoice: recordCarrierChoice,
  RecordLabel: recordLabel,
  RecordLabelRefusal: recordLabelRefusal,
  RecordLabelFailure: recordLabelFailure,
  RecordLabelCancellation: recordLabelCancellation,
  RecordLabelCancellationRefusal: recordLabelCancellationRefusal,
  ShipFulfilment: shipFulfilment,
  ReceiveTransfer: receiveTransfer,
  ExtendPickup: extendPickup,
  RecordTransferArrival: recordTransferArrival,
  DropTransfer: dropTransfer,
  RecordTracking: recordTracking,
  MarkReadyForPickup: markReadyForPickup,
  CollectFulfilment: collectFulfilment,
  ExpirePickup: expirePickup,
  CancelFulfilment: cancelFulfilment,
};

export const fulfilmentDecider: Decider<Fulfilment, FulfilmentCommand, FulfilmentEvent> = {
  initialState,
  evolve,
  decide(command, state) {
    const decide = decisions[command.type] as Decide<FulfilmentCommand['type']> | undefined;
    if (!decide) throw new Error(`Unhandled command ${command.type}`);
    return decide(command, state);
  },
};

