import { AppError, ConcurrencyError, ConflictError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { WriteSide } from '../commands.js';
import type { CommandMetadata } from '../decider.js';
import type { OrderEvent, SkuQuantity } from '../orders/order.events.js';
import { isClosed, type PlacedState } from '../orders/order.state.js';
import type { ProcessManager } from '../process-manager.js';
import type { Allocator, ReallocationOutcome } from '../sourcing/allocator.js';
import type { GiveBackCause } from '../sourcing/reallocation.js';
import type { Recorded } from '../to-domain.js';
import { fulfilmentIdFor, transferIdFor } from './fulfilment.decider.js';
import { isOpen, plusLines, shipmentStatus, type ExistingFulfilment } from './fulfilment.state.js';
import type { FulfilmentEvent, InboundTransfer } from './fulfilment.events.js';

type Event = Recorded<OrderEvent | FulfilmentEvent>;

/**
 * Fulfilment as a process manager on the log, one order at a time. A released order gets one
 * fulfilment per allocated location, and a re-allocated part one of its own; a pickup order's
 * store gets a pickup holding all of the allocation's units, and each location sending some of
 * them there a transfer (see fulfil). A cancelled order's open fulfilments are cancelled. A
 * transfer sent takes its units off the ledger there (with the order's reservation of them);
 * received, it puts them on the store's ledger, held for the order, and tells the pickup waiting
 * for them. What a location does moves the stock and the order on: a reject
 * or a short pick re-sources those lines elsewhere, or backorders them on the order when no other
 * location can take them (a short pick first writes the missing units off where they were not
 * found), a shipment or a collection takes the units off the ledger and
 * is recorded on the order (whose capture job follows), a delivery, a pickup ready or collected is
 * recorded on the order, and a pickup not collected in time cancels the order (not_collected).
 * Every step is a command whose outcome, once it holds, appends nothing, so a reaction run again
 * after a crash does nothing twice.
 *
 * A step a rule refuses (a 4xx of the domain) would be refused again on every retry, and a
 * reaction that throws halts the turn for every order: it is recorded (`recordRefusal`, durably,
 * where operators see and retry it) and the process goes on. `step` is the reaction itself, which
 * throws what it meets: what an operator's retry runs.
 */
export function fulfilmentProcess(deps: {
  write: WriteSide; allocator: Allocator; log: Logger; now?: () => Date;
  recordRefusal(event: Recorded, reason: string): Promise<void>;
}): ProcessManager & { step(event: Recorded): Promise<void> } {
  const name = 'fulfilment';
  const { write, allocator } = deps;

  /**
   * Re-sources what a location gave back, under the re-allocation this event already made if it
   * made one; what no other location can take is backordered on the order by the same re-allocation.
   */
  async function resource(e: Event & { data: { orderId: string; fulfilmentId: string; locationId: string } }, lines: SkuQuantity[], cause: GiveBackCause,
    metadata: CommandMetadata, context: { afterCrash: boolean; signal: AbortSignal }): Promise<ReallocationOutcome> {
    const { orderId, fulfilmentId, locationId } = e.data;
    return allocator.reallocate(orderId, { cause, lines, release: [{ locationId, lines }], fulfilmentId, causeEventId: e.id }, metadata, context);
  }

  /**
   * Makes the fulfilments of one allocation: one per location of a ship order. For a pickup
   * order, the store's pickup holds the allocation's units there and those sent to it, and each
   * other location gets a transfer fulfilment to the store; the pickup is made first, so it waits
   * for the transfers before they exist. A re-allocation's part joins a pickup of the order not
   * picked yet, so the customer collects once; a pickup already picked leaves it one of its own.
   */
  async function fulfil(order: PlacedState, seq: number, metadata: CommandMetadata): Promise<void> {
    const { orderId, delivery } = order.order;
    const parts = unitsByLocation(order, seq);
    if (delivery.method === 'ship') {
      for (const [locationId, lines] of parts) await write.createFulfilment({ orderId, locationId, kind: 'ship', lines, delivery, allocationSeq: seq }, metadata);
      return;
    }
    const store = delivery.locationId;
    const inbound: InboundTransfer[] = [...parts].filter(([from]) => from !== store).map(([from, lines]) => ({ fulfilmentId: fulfilmentIdFor(orderId, seq, from), from, lines }));
    const lines = plusLines(parts.get(store) ?? [], inbound.flatMap((t) => t.lines));
    if (lines.length === 0) return;
    const pickupFulfilmentId = await pickupFor(order, seq, lines, inbound, metadata);
    for (const t of inbound) {
      await write.createFulfilment({
        orderId, locationId: t.from, kind: 'transfer', lines: t.lines, delivery, allocationSeq: seq, transfer: { to: store, pickupFulfilmentId },
      }, metadata);
    }
  }

  async function pickupFor(order: PlacedState, seq: number, lines: SkuQuantity[], inbound: InboundTransfer[], metadata: CommandMetadata): Promise<string> {
    const { orderId, delivery } = order.order;
    const store = (delivery as { locationId: string }).locationId;
    const earlier = [...new Set(order.progress.allocations.map((p) => p.allocationSeq))].filter((k) => k < seq).sort((a, b) => a - b);
    const pickups: ExistingFulfilment[] = [];
    for (const k of earlier) {
      const f = await write.loadFulfilment(fulfilmentIdFor(orderId, k, store));
      if (f.status !== 'none' && f.kind === 'pickup') pickups.push(f);
    }
    const joined = pickups.find((f) => f.allocationSeqs.includes(seq));
    if (joined) return joined.fulfilmentId;
    for (const f of pickups.filter((x) => x.status === 'pending')) {
      try {
        await write.extendPickup(f.fulfilmentId, { allocationSeq: seq, lines, inbound }, metadata);
        return f.fulfilmentId;
      } catch (err) {
        if (!(err instanceof ConflictError && err.code === 'fulfilment.already_picked')) throw err;   // picked meanwhile: the next, or one of its own
      }
    }
    const made = await write.createFulfilment({ orderId, locationId: store, kind: 'pickup', lines, delivery, allocationSeq: seq, ...(inbound.length > 0 ? { inbound } : {}) }, metadata);
    return made.fulfilmentId;
  }

  /**
   * After a pickup order's lines were given back by a transfer's location: what was sourced in
   * their place joins the pickup at once (before the rest of that transfer can arrive and let
   * the pickup be picked without it), and a transfer that will not come (`dropped`) is then
   * dropped from the pickup waiting for it.
   */
  async function afterTransferResourced(transferId: string, outcome: ReallocationOutcome | undefined, dropped: string | null, metadata: CommandMetadata): Promise<void> {
    const f = await write.loadFulfilment(transferId);
    if (f.status === 'none' || !f.transfer) return;
    if (outcome?.outcome === 'reallocated') {
      const order = await write.loadOrder(f.orderId, { fresh: true });
      if (order.status !== 'none' && !isClosed(order)) await fulfil(order, outcome.reallocation.allocationSeq, metadata);
    }
    if (dropped === null) return;
    const pickup = await write.loadFulfilment(f.transfer.pickupFulfilmentId);
    if (isOpen(pickup)) await write.dropTransfer(pickup.fulfilmentId, transferId, dropped, metadata);
  }

  return {
    name,
    handles: ['OrderReleased', 'OrderReallocated', 'OrderCancelled', 'FulfilmentPicked', 'FulfilmentRejected', 'FulfilmentShipped',
      'ShipmentTracked', 'FulfilmentReadyForPickup', 'FulfilmentCollected', 'FulfilmentExpired', 'TransferShipped', 'TransferReceived'] satisfies Event['type'][],
    keyOf: (e) => (e.data as { orderId: string }).orderId,
    async react(raw, context) {
      try {
        await reactTo(raw as Event, context);
      } catch (err) {
        if (!(err instanceof AppError) || err instanceof ConcurrencyError) throw err;
        deps.log.error({ err, eventId: raw.id, type: raw.type, position: raw.position, orderId: (raw.data as { orderId?: string }).orderId }, 'fulfilment step refused; left for an operator');
        await deps.recordRefusal(raw, `${raw.type} refused: ${err.code}: ${err.message}`);
      }
    },
    step: (e) => reactTo(e as Event, { afterCrash: true, signal: new AbortController().signal }),
  };

  async function reactTo(e: Event, context: { afterCrash: boolean; signal: AbortSignal }): Promise<void> {
    const orderId = (e.data as { orderId: string }).orderId;
    const metadata: CommandMetadata = {
      now: (deps.now?.() ?? new Date()).toISOString(), correlationId: orderId, causationId: e.id, actor: { kind: 'system', id: name },
    };
    context.signal.throwIfAborted();
    switch (e.type) {
      case 'OrderReleased':
      case 'OrderReallocated': {
        // As last seen here is usually enough (this process often released it); read afresh when that state predates the allocation.
        const seq = e.type === 'OrderReleased' ? 0 : e.data.allocationSeq;
        let order = await write.loadOrder(orderId);
        if (order.status === 'none' || !order.progress.allocations.some((p) => p.allocationSeq === seq)) order = await write.loadOrder(orderId, { fresh: true });
        if (order.status === 'none') return;
        await fulfil(order, seq, metadata);
        return;
      }
      case 'OrderCancelled': {
        const order = await write.loadOrder(orderId, { fresh: true });
        if (order.status === 'none') return;
        const fulfilments: ExistingFulfilment[] = [];
        for (const id of fulfilmentIdsOf(order)) {
          const f = await write.loadFulfilment(id);
          if (f.status !== 'none') fulfilments.push(f);
        }
        for (const f of fulfilments) if (isOpen(f)) await write.cancelFulfilment(f.fulfilmentId, e.data.reason, metadata);
        // A transfer received while the order was open was held at the store for it, maybe after the
        // sourcing process released what the order held: what it still holds there goes back to stock.
        for (const f of fulfilments) {
          if (f.status !== 'received' || !f.transfer) continue;
          for (const l of f.pick.picked) {
            await write.onLedger({ type: 'ReleaseReservation', data: { sku: l.sku, locationId: f.transfer.to, orderId, reason: 'order cancelled' }, metadata });
          }
        }
        return;
      }
      case 'FulfilmentPicked': {
        if (e.data.short.length === 0) return;
        const order = await write.loadOrder(orderId, { fresh: true });
        // A closed order's stock was released as it closed: there is nothing left to write off against it or to source.
        if (order.status === 'none' || order.cancellation || order.rejection) return;
        for (const l of e.data.short) {
          await write.onLedger({ type: 'WriteOffShortPick', data: { sku: l.sku, locationId: e.data.locationId, orderId, fulfilmentId: e.data.fulfilmentId, quantity: l.quantity }, metadata });
        }
        const outcome = await resource(e, e.data.short, 'short_pick', metadata, context);
        // Nothing at all was found: the fulfilment holds nothing more and has nothing to pack.
        const nothing = e.data.picked.length === 0;
        if (nothing && (await write.loadFulfilment(e.data.fulfilmentId)).status === 'picking') {
          await write.cancelFulfilment(e.data.fulfilmentId, 'nothing found to pick; sourced elsewhere', metadata);
        }
        await afterTransferResourced(e.data.fulfilmentId, outcome, nothing ? `nothing found to send at ${e.data.locationId}` : null, metadata);
        return;
      }
      case 'FulfilmentRejected': {
        const outcome = e.data.lines.length > 0 ? await resource(e, e.data.lines, 'rejected', metadata, context) : undefined;
        await afterTransferResourced(e.data.fulfilmentId, outcome, `rejected at ${e.data.locationId}: ${e.data.reason}`, metadata);
        return;
      }
      case 'TransferShipped': {
        const { fulfilmentId, locationId, to, lines } = e.data;
        for (const l of lines) {
          await write.onLedger({
            type: 'TransferStockOut', data: { sku: l.sku, locationId, transferId: transferIdFor(fulfilmentId, l.sku), to, quantity: l.quantity, orderId, fulfilmentId }, metadata,
          });
        }
        await write.recordOrderFulfilment({ type: 'RecordTransferShipped', data: { orderId, fulfilmentId, from: locationId, to, lines }, metadata });
        return;
      }
      case 'TransferReceived': {
        const { fulfilmentId, locationId, to, pickupFulfilmentId, lines } = e.data;
        const order = await write.loadOrder(orderId, { fresh: true });
        if (order.status === 'none') return;
        // Held for an open order the moment they arrive; a closed order's are the store's to sell.
        const forOrder = isClosed(order) ? {} : { orderId };
        for (const l of lines) {
          await write.receiveTransfer({ sku: l.sku, locationId: to, transferId: transferIdFor(fulfilmentId, l.sku), from: locationId, quantity: l.quantity, fulfilmentId, ...forOrder }, metadata);
        }
        await write.recordOrderFulfilment({ type: 'RecordTransferReceived', data: { orderId, fulfilmentId, from: locationId, to, lines }, metadata });
        if (isOpen(await write.loadFulfilment(pickupFulfilmentId))) await write.recordTransferArrival(pickupFulfilmentId, fulfilmentId, lines, metadata);
        return;
      }
      case 'FulfilmentShipped':
      case 'FulfilmentCollected': {
        const { fulfilmentId, locationId, lines } = e.data;
        for (const l of lines) {
          await write.onLedger({ type: 'ShipReservedStock', data: { sku: l.sku, locationId, orderId, quantity: l.quantity, fulfilmentId }, metadata });
        }
        await write.recordOrderFulfilment(e.type === 'FulfilmentShipped'
          ? { type: 'RecordFulfilmentShipped', data: { orderId, fulfilmentId, locationId, lines }, metadata }
          : { type: 'RecordCollection', data: { orderId, fulfilmentId, lines }, metadata });
        // The carrier may have reported the delivery before the handover was recorded.
        if (e.type === 'FulfilmentShipped' && shipmentStatus(await write.loadFulfilment(fulfilmentId)) === 'delivered') {
          await write.recordOrderFulfilment({ type: 'RecordFulfilmentDelivered', data: { orderId, fulfilmentId }, metadata });
        }
        return;
      }
      case 'ShipmentTracked': {
        if (!e.data.moved || e.data.status !== 'delivered') return;
        // Delivered before the handover was recorded on the order: recorded when it is (FulfilmentShipped above).
        const order = await write.loadOrder(orderId, { fresh: true });
        if (order.status === 'none' || !order.progress.shipments.some((x) => x.fulfilmentId === e.data.fulfilmentId)) return;
        await write.recordOrderFulfilment({ type: 'RecordFulfilmentDelivered', data: { orderId, fulfilmentId: e.data.fulfilmentId }, metadata });
        return;
      }
      case 'FulfilmentReadyForPickup': {
        const { fulfilmentId, locationId, code, readyAt, expiresAt } = e.data;
        await write.recordOrderFulfilment({ type: 'RecordReadyForPickup', data: { orderId, fulfilmentId, locationId, code, readyAt, expiresAt }, metadata });
        return;
      }
      case 'FulfilmentExpired':
        await write.cancelOrder(orderId, 'not_collected', metadata);
        return;
      default:
    }
  }
}

/** An allocation's units by location, whatever became of them since (units that arrived at the pickup store by transfer are not part of it). */
function unitsByLocation(order: PlacedState, seq: number): Map<string, SkuQuantity[]> {
  const parts = order.progress.allocations.filter((p) => p.allocationSeq === seq && p.transferredFrom === undefined);
  return new Map([...new Set(parts.map((p) => p.locationId))].map((l) => [l, plusLines([], parts.filter((p) => p.locationId === l).flatMap((p) => p.lines))]));
}

/** Every fulfilment the order may have: one per location of each allocation, and for a pickup order the store's for each. */
function fulfilmentIdsOf(order: PlacedState): Set<string> {
  const { orderId, delivery } = order.order;
  const ids = new Set(order.progress.allocations.map((p) => fulfilmentIdFor(orderId, p.allocationSeq, p.locationId)));
  if (delivery.method === 'pickup') for (const p of order.progress.allocations) ids.add(fulfilmentIdFor(orderId, p.allocationSeq, delivery.locationId));
  return ids;
}
