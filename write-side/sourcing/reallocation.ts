import { ConflictError } from '../../platform/errors.js';
import type { DomainEvent } from '../decider.js';
import type { LocationLines, OrderAllocation, Reallocation, ReallocationCause, SkuQuantity } from '../orders/order.events.js';

// Re-sourcing part of an order (a store rejected its fulfilment, or a pick came up short): what
// is recorded on the order, and what the order's own record says it holds on each ledger.

export type { LocationLines, Reallocation, ReallocationCause };

/**
 * What to re-source: `lines` planned again, never at the `exclude`d locations (nor where they are
 * released); `release`: what the old locations held for them. `allocationSeq` says which
 * re-allocation of the order this is (1 for the first): a re-run passes the same one.
 */
export interface ReallocationRequest {
  allocationSeq: number;
  lines: SkuQuantity[];
  exclude: string[];
  release: LocationLines[];
  cause: ReallocationCause;
}

/** The order's sourcing as its own events record it. */
export interface SourcingRecord {
  allocated: boolean;
  /** Units the order holds reserved on each ledger (`sku@locationId`): allocated, less released and shipped. */
  held: ReadonlyMap<string, number>;
  reallocations: Reallocation[];
}

export const ledgerKey = (sku: string, locationId: string): string => `${sku}@${locationId}`;

/** The order events that change what it holds where, as the order module records them. */
type SourcingEvent =
  | DomainEvent<'OrderAllocated', OrderAllocation & { orderId: string }>
  | DomainEvent<'OrderReallocated', Reallocation & { at: string }>
  | DomainEvent<'OrderFulfilmentShipped', LocationLines & { orderId: string; fulfilmentId: string; at: string }>;

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
