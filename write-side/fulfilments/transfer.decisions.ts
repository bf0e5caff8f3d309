import { ConflictError, ValidationError } from '../../platform/errors.js';
import type { Decide } from './fulfilment.decider.js';
import type { FulfilmentEvent } from './fulfilment.events.js';
import { existing, ids, mustBePickup, mustBeTransfer, refuseEnded, validInbound, validLines } from './fulfilment.rules.js';
import { minusLines, type ExistingFulfilment } from './fulfilment.state.js';

// A pickup whose store lacks some lines: the transfers that bring them from other locations (each
// a fulfilment of its own, sent with the store replenishment run and received at the store), and
// the pickup's record of what it waits for, which keeps it from being picked or ready before.

/** A packed transfer leaves with the store replenishment run: no label, no carrier, nothing told to the customer. */
export function shipTransfer(f: ExistingFulfilment, at: string): FulfilmentEvent[] {
  mustBeTransfer(f);
  if (f.status === 'in_transit' || f.status === 'received') return [];
  refuseEnded(f);
  if (f.status !== 'packed') throw new ConflictError('fulfilment.not_packed', `Transfer ${f.fulfilmentId} is ${f.status}: it leaves once packed`);
  const { to, pickupFulfilmentId } = f.transfer;
  return [{ type: 'TransferShipped', data: { ...ids(f, at), to, pickupFulfilmentId, lines: f.pick.picked } }];
}

export const receiveTransfer: Decide<'ReceiveTransfer'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustBeTransfer(f);
  if (f.status === 'received') return [];
  if (f.status !== 'in_transit') {
    refuseEnded(f);
    throw new ConflictError('fulfilment.not_shipped', `Transfer ${f.fulfilmentId} is ${f.status}: it has not left ${f.locationId}`);
  }
  const { to, pickupFulfilmentId } = f.transfer;
  return [{ type: 'TransferReceived', data: { ...ids(f, command.metadata.now), to, pickupFulfilmentId, lines: f.pick.picked } }];
};

export const extendPickup: Decide<'ExtendPickup'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  mustBePickup(f);
  const { allocationSeq } = command.data;
  if (f.allocationSeqs.includes(allocationSeq)) return [];            // the process manager again
  const lines = validLines(command.data.lines, '/lines', 1);
  if (lines.length === 0) throw new ValidationError('fulfilment.no_lines', 'A pickup is extended with one line or more', [{ path: '/lines', message: 'no lines' }]);
  const inbound = validInbound(command.data.inbound, lines);
  refuseEnded(f);
  if (f.status !== 'pending') {
    throw new ConflictError('fulfilment.already_picked', `Pickup ${f.fulfilmentId} is ${f.status}: the re-sourced lines cannot join it`);
  }
  return [{ type: 'PickupExtended', data: { ...ids(f, command.metadata.now), allocationSeq, lines, inbound } }];
};

/** The transfer a pickup holds units of, or 409. */
function inboundOf(f: ExistingFulfilment, transferId: string) {
  mustBePickup(f);
  const t = f.inbound.find((x) => x.fulfilmentId === transferId);
  if (!t) throw new ConflictError('fulfilment.unknown_transfer', `Pickup ${f.fulfilmentId} waits for no transfer ${transferId}`);
  return t;
}

export const recordTransferArrival: Decide<'RecordTransferArrival'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  const t = inboundOf(f, command.data.transferId);
  const lines = validLines(command.data.lines, '/lines', 1);
  if (t.status === 'arrived') return [];
  if (t.status === 'dropped') throw new ConflictError('fulfilment.transfer_dropped', `Transfer ${t.fulfilmentId} was dropped from pickup ${f.fulfilmentId}`);
  refuseEnded(f);
  if (minusLines(lines, t.lines).length > 0) {
    throw new ConflictError('fulfilment.more_than_expected', `Transfer ${t.fulfilmentId} brings ${JSON.stringify(lines)}; pickup ${f.fulfilmentId} expects ${JSON.stringify(t.lines)}`);
  }
  return [{ type: 'PickupTransferArrived', data: { ...ids(f, command.metadata.now), transferId: t.fulfilmentId, from: t.from, lines } }];
};

export const dropTransfer: Decide<'DropTransfer'> = (command, state) => {
  const f = existing(state, command.data.fulfilmentId);
  const t = inboundOf(f, command.data.transferId);
  if (t.status === 'dropped') return [];
  if (t.status === 'arrived') throw new ConflictError('fulfilment.transfer_arrived', `Transfer ${t.fulfilmentId} has arrived at pickup ${f.fulfilmentId}`);
  refuseEnded(f);
  return [{ type: 'PickupTransferDropped', data: { ...ids(f, command.metadata.now), transferId: t.fulfilmentId, from: t.from, lines: t.lines, reason: command.data.reason } }];
};
