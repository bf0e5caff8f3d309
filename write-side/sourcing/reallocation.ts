import { ConflictError } from '../../platform/errors.js';
import type { DomainEvent } from '../decider.js';
import type { GiveBackCause, LocationLines, OrderAllocation, Reallocation, ReallocationCause, SkuQuantity, TransferLeg } from '../orders/order.events.js';

// Re-sourcing part of an order (a store rejected its fulfilment, a pick came up short, or stock
// arrived for units it waits for): what is recorded on the order, what the order's own record
// says it holds on each ledger, and where its lines may not go again.

export type { GiveBackCause, LocationLines, Reallocation, ReallocationCause };

/**
 * What to re-source: `lines` planned again, never where they are released nor where the order's
 * lines of those SKUs were given back before; `release`: what the old locations held for them.
 * A give-back names the fulfilment that gave the lines back and the event it did so in
 * (`causeEventId`): a re-run for the same event finds the re-allocation it made. A `backorder`
 * request sources the units the order waits for, releasing nothing.
 */
export type ReallocationRequest =
  | { cause: GiveBackCause; lines: SkuQuantity[]; release: LocationLines[]; fulfilmentId: string; causeEventId: string }
  | { cause: 'backorder' };

/** The order's sourcing as its own events record it. */
export interface SourcingRecord {
  allocated: boolean;
  /** Units the order holds reserved on each ledger (`sku@locationId`): allocated, less released and shipped. */
  held: ReadonlyMap<string, number>;
  reallocations: Reallocation[];
}

export const ledgerKey = (sku: string, locationId: string): string => `${sku}@${locationId}`;

/**
 * Where the order's lines of each SKU were given back (a reject, a short pick), with the cause:
 * the one rule for where they may not be allocated again, so lines never go back and forth
 * between locations that refused them.
 */
export function givenBack(reallocations: readonly Pick<Reallocation, 'cause' | 'released'>[]): { sku: string; locationId: string; cause: GiveBackCause }[] {
  return reallocations.flatMap((r) => (r.cause === 'backorder' ? [] : r.released.flatMap((x) => x.lines.map((l) => ({ sku: l.sku, locationId: x.locationId, cause: r.cause as GiveBackCause })))));
}

/** The re-allocation already recorded for a give-back: the one its event made. */
export function recordedFor(reallocations: readonly Reallocation[], causeEventId: string): Reallocation | undefined {
  return reallocations.find((r) => r.causeEventId === causeEventId);
}

/** The order events that change what it holds where, as the order module records them. */
type SourcingEvent =
  | DomainEvent<'OrderAllocated', OrderAllocation & { orderId: string }>
  | DomainEvent<'OrderReallocated', Reallocation & { at: string }>
  | DomainEvent<'OrderFulfilmentShipped', LocationLines & { orderId: string; fulfilmentId: string; at: string }>
  | DomainEvent<'OrderTransferShipped', TransferLeg & { at: string }>
  | DomainEvent<'OrderTransferReceived', TransferLeg & { reserved: boolean; at: string }>;

export function sourcingRecord(events: DomainEvent[]): SourcingRecord {
  let record: SourcingRecord = { allocated: false, held: new Map(), reallocations: [] };
  for (const e of events as SourcingEvent[]) {
    switch (e.type) {
      case 'OrderAllocated':
        record = { ...record, allocated: true, held: adding(new Map(), e.data.allocations) };
        break;
      case 'OrderReallocated': {
        const { at: _at, ...reallocation } = e.data;
        record = { ...record, held: afterReallocation(record.held, reallocation), reallocations: [...record.reallocations, reallocation] };
        break;
      }
      case 'OrderFulfilmentShipped':
        record = { ...record, held: taking(record.held, [e.data], false) };
        break;
      // A transfer takes the units off the ledger they left, and holds them at the pickup store once there.
      case 'OrderTransferShipped':
        record = { ...record, held: taking(record.held, [{ locationId: e.data.from, lines: e.data.lines }], false) };
        break;
      case 'OrderTransferReceived':
        if (e.data.reserved) record = { ...record, held: adding(record.held, [{ locationId: e.data.to, lines: e.data.lines }]) };
        break;
      default:
        break;
    }
  }
  return record;
}

/** What the order holds on each ledger once the re-allocation is made; releasing more than it holds is refused. */
export function afterReallocation(held: ReadonlyMap<string, number>, r: Pick<Reallocation, 'released' | 'allocations'>): Map<string, number> {
  return adding(taking(held, r.released, true), r.allocations);
}

function adding(held: ReadonlyMap<string, number>, at: LocationLines[]): Map<string, number> {
  const next = new Map(held);
  for (const a of at) for (const l of a.lines) next.set(ledgerKey(l.sku, a.locationId), (next.get(ledgerKey(l.sku, a.locationId)) ?? 0) + l.quantity);
  return next;
}

function taking(held: ReadonlyMap<string, number>, at: LocationLines[], strict: boolean): Map<string, number> {
  const next = new Map(held);
  for (const a of at) {
    for (const l of a.lines) {
      const key = ledgerKey(l.sku, a.locationId);
      const left = (next.get(key) ?? 0) - l.quantity;
      if (left < 0 && strict) throw new ConflictError('sourcing.not_held', `The order holds ${next.get(key) ?? 0} of ${l.sku} at ${a.locationId}, not the ${l.quantity} to release`);
      if (left > 0) next.set(key, left);
      else next.delete(key);
    }
  }
  return next;
}
