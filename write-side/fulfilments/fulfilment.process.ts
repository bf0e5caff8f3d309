import { AppError, ConcurrencyError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { WriteSide } from '../commands.js';
import type { CommandMetadata } from '../decider.js';
import type { OrderEvent, SkuQuantity } from '../orders/order.events.js';
import type { PlacedState } from '../orders/order.state.js';
import type { ProcessManager } from '../process-manager.js';
import type { Allocator } from '../sourcing/allocator.js';
import type { GiveBackCause } from '../sourcing/reallocation.js';
import type { Recorded } from '../to-domain.js';
import { fulfilmentIdFor } from './fulfilment.decider.js';
import { shipmentStatus } from './fulfilment.state.js';
import type { FulfilmentEvent } from './fulfilment.events.js';

type Event = Recorded<OrderEvent | FulfilmentEvent>;

/**
 * Fulfilment as a process manager on the log, one order at a time. A released order gets one
 * fulfilment per allocated location, and a re-allocated part one of its own; a cancelled order's
 * open fulfilments are cancelled. What a location does moves the stock and the order on: a reject
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
    metadata: CommandMetadata, context: { afterCrash: boolean; signal: AbortSignal }): Promise<void> {
    const { orderId, fulfilmentId, locationId } = e.data;
    await allocator.reallocate(orderId, { cause, lines, release: [{ locationId, lines }], fulfilmentId, causeEventId: e.id }, metadata, context);
  }

  return {
    name,
    handles: ['OrderReleased', 'OrderReallocated', 'OrderCancelled', 'FulfilmentPicked', 'FulfilmentRejected', 'FulfilmentShipped',
      'ShipmentTracked', 'FulfilmentReadyForPickup', 'FulfilmentCollected', 'FulfilmentExpired'] satisfies Event['type'][],
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
        for (const part of partsToFulfil(order, seq)) {
          await write.createFulfilment({
            orderId, locationId: part.locationId, kind: order.order.delivery.method, lines: part.lines, delivery: order.order.delivery, allocationSeq: seq,
          }, metadata);
        }
        return;
      }
      case 'OrderCancelled': {
        const order = await write.loadOrder(orderId, { fresh: true });
        if (order.status === 'none') return;
        const ids = new Set(order.progress.allocations.map((p) => fulfilmentIdFor(orderId, p.allocationSeq, p.locationId)));
        for (const id of ids) {
          const f = await write.loadFulfilment(id);
          if (f.status !== 'none' && !['shipped', 'collected', 'expired', 'rejected', 'cancelled'].includes(f.status)) {
            await write.cancelFulfilment(id, e.data.reason, metadata);
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
        await resource(e, e.data.short, 'short_pick', metadata, context);
        // Nothing at all was found: the fulfilment holds nothing more and has nothing to pack.
        if (e.data.picked.length === 0 && (await write.loadFulfilment(e.data.fulfilmentId)).status === 'picking') {
          await write.cancelFulfilment(e.data.fulfilmentId, 'nothing found to pick; sourced elsewhere', metadata);
        }
        return;
      }
      case 'FulfilmentRejected':
        if (e.data.lines.length > 0) await resource(e, e.data.lines, 'rejected', metadata, context);
        return;
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

/**
 * The parts of an allocation that become fulfilments: every location's part of a ship order; the
 * pickup store's own part of a pickup order (what transfers to the store is not a fulfilment of
 * its own yet).
 */
function partsToFulfil(order: PlacedState, seq: number): { locationId: string; lines: SkuQuantity[] }[] {
  const parts = order.progress.allocations.filter((p) => p.allocationSeq === seq);
  const { delivery } = order.order;
  return delivery.method === 'pickup' ? parts.filter((p) => p.locationId === delivery.locationId) : parts;
}
