import type { LocationLines, OrderAllocation, OrderEvent, SkuQuantity } from './order.events.js';

// What an order knows of its fulfilment: where its units are held and what became of them, what
// has shipped and what waits at a pickup counter. The order's state and the orders read model both
// hold it and fold it with evolveProgress, so the status facts read from it are the same on both.

/** `in_transit`: sent on to the pickup store, held nowhere on the way; `transferred`: arrived there (held there for the order in a part of its own). */
export type AllocationStatus = 'reserved' | 'released' | 'fulfilled' | 'in_transit' | 'transferred';

/** Units of the order at one location, from one allocation, and what became of them. */
export interface AllocationPart extends LocationLines {
  status: AllocationStatus;
  /** 0 for the first allocation, n for the n-th re-allocation. */
  allocationSeq: number;
  /** What leaves this location for the pickup store. */
  transfers: OrderAllocation['transfers'];
  /** The fulfilment that shipped or handed over these units, or sent them to the pickup store. */
  fulfilmentId?: string;
  /** Units that arrived at the pickup store: where they came from. */
  transferredFrom?: string;
}

export interface ShipmentRecord extends LocationLines { fulfilmentId: string; shippedAt: string; deliveredAt: string | null }

export interface PickupRecord {
  fulfilmentId: string;
  locationId: string;
  code: string;
  readyAt: string;
  expiresAt: string;
  collected: { lines: SkuQuantity[]; at: string } | null;
}

/** Units a location gave back (a reject, a short pick) that no other location could take: they wait for stock. */
export interface BackorderedPart {
  lines: SkuQuantity[];
  /** The re-allocation that backordered them. */
  allocationSeq: number;
  /** Where they were given back. */
  from: string[];
  /** The re-allocation that sourced them once stock arrived; null while they wait. */
  filledBy: number | null;
}

export interface Progress {
  /** Every part of every allocation, in the order allocated: summing the `reserved` ones gives what the order holds. */
  allocations: AllocationPart[];
  shipments: ShipmentRecord[];
  pickups: PickupRecord[];
  backordered: BackorderedPart[];
}

export const NO_PROGRESS: Progress = { allocations: [], shipments: [], pickups: [], backordered: [] };

/** The status facts that follow from the order's progress (see statusOf). */
export interface ProgressFacts {
  /** The order's units shipped or collected: none, part or all of them. */
  handedOver: 'none' | 'part' | 'all';
  /** Some units were collected at a pickup counter. */
  collected: boolean;
  /** Something has shipped, and every shipment has been delivered. */
  delivered: boolean;
  /** A pickup waits at the counter. */
  readyForPickup: boolean;
  /** Units given back wait for stock, and the order holds no other units anywhere (nor has any on their way to its pickup store). */
  awaitingStock: boolean;
}

export function progressFacts(ordered: SkuQuantity[], p: Progress): ProgressFacts {
  const handed = handedOverUnits(p);
  const all = unitsBySku(ordered).every((l) => (handed.get(l.sku) ?? 0) >= l.quantity);
  return {
    handedOver: handed.size === 0 ? 'none' : all ? 'all' : 'part',
    collected: p.pickups.some((x) => x.collected !== null),
    delivered: p.shipments.length > 0 && p.shipments.every((s) => s.deliveredAt !== null),
    readyForPickup: p.pickups.some((x) => x.collected === null),
    awaitingStock: waitingForStock(p).length > 0 && !p.allocations.some((a) => a.status === 'reserved' || a.status === 'in_transit'),
  };
}

/** Units per SKU given back and sourced nowhere, waiting for stock (the backorder job fills them). */
export function waitingForStock(p: Progress): SkuQuantity[] {
  return unitsBySku(p.backordered.filter((b) => b.filledBy === null).flatMap((b) => b.lines));
}

/** Units per SKU that have shipped or been collected. */
export function handedOverUnits(p: Progress): Map<string, number> {
  return new Map(unitsBySku([...p.shipments.flatMap((s) => s.lines), ...p.pickups.flatMap((x) => x.collected?.lines ?? [])]).map((l) => [l.sku, l.quantity]));
}

/** The lines a fulfilment shipped or handed over at the counter; null if it has done neither. */
export function handedOverBy(p: Progress, fulfilmentId: string): SkuQuantity[] | null {
  return p.shipments.find((s) => s.fulfilmentId === fulfilmentId)?.lines ?? p.pickups.find((x) => x.fulfilmentId === fulfilmentId)?.collected?.lines ?? null;
}

/** Units per SKU the order holds reserved at a location. */
export function reservedAt(p: Progress, locationId: string): Map<string, number> {
  const parts = p.allocations.filter((a) => a.locationId === locationId && a.status === 'reserved');
  return new Map(unitsBySku(parts.flatMap((a) => a.lines)).map((l) => [l.sku, l.quantity]));
}

/** The sequence number of the order's latest allocation or re-allocation (one that only backordered units too); -1 before the first. */
export const lastAllocationSeq = (p: Progress): number =>
  [...p.allocations, ...p.backordered].reduce((n, a) => Math.max(n, a.allocationSeq), -1);

/** The progress after one event. A fact already taken in (the same shipment, pickup or re-allocation) changes nothing. */
export function evolveProgress(p: Progress, event: OrderEvent): Progress {
  switch (event.type) {
    case 'OrderAllocated': {
      const { allocations, transfers } = event.data;
      return { ...p, allocations: newParts(allocations, transfers, 0) };
    }
    case 'OrderReallocated': {
      const { released, allocations, transfers, allocationSeq, cause, backordered } = event.data;
      if (p.allocations.some((a) => a.allocationSeq === allocationSeq) || p.backordered.some((b) => b.allocationSeq === allocationSeq)) return p;
      const left = released.reduce((parts, r) => move(parts, r, ['reserved'], 'released'), p.allocations);
      const waiting = cause === 'backorder'
        ? p.backordered.map((b) => (b.filledBy === null ? { ...b, filledBy: allocationSeq } : b))
        : [...p.backordered, ...(backordered.length > 0 ? [{ lines: backordered, allocationSeq, from: released.map((r) => r.locationId), filledBy: null }] : [])];
      return { ...p, allocations: [...left, ...newParts(allocations, transfers, allocationSeq)], backordered: waiting };
    }
    case 'OrderCancelled':
    case 'OrderRejected':
      return { ...p, allocations: p.allocations.map((a) => (a.status === 'reserved' ? { ...a, status: 'released' } : a)) };
    case 'OrderFulfilmentShipped': {
      const { fulfilmentId, locationId, lines, at } = event.data;
      if (p.shipments.some((s) => s.fulfilmentId === fulfilmentId)) return p;
      return {
        ...p,
        allocations: move(p.allocations, { locationId, lines }, ['reserved', 'released'], 'fulfilled', fulfilmentId),
        shipments: [...p.shipments, { fulfilmentId, locationId, lines, shippedAt: at, deliveredAt: null }],
      };
    }
    case 'OrderFulfilmentDelivered': {
      const { fulfilmentId, at } = event.data;
      return { ...p, shipments: p.shipments.map((s) => (s.fulfilmentId === fulfilmentId && s.deliveredAt === null ? { ...s, deliveredAt: at } : s)) };
    }
    case 'OrderReadyForPickup': {
      const { fulfilmentId, locationId, code, readyAt, expiresAt } = event.data;
      if (p.pickups.some((x) => x.fulfilmentId === fulfilmentId)) return p;
      return { ...p, pickups: [...p.pickups, { fulfilmentId, locationId, code, readyAt, expiresAt, collected: null }] };
    }
    case 'OrderCollected': {
      const { fulfilmentId, locationId, lines, at } = event.data;
      const pickup = p.pickups.find((x) => x.fulfilmentId === fulfilmentId);
      if (!pickup || pickup.collected) return p;
      return {
        ...p,
        allocations: move(p.allocations, { locationId, lines }, ['reserved', 'released'], 'fulfilled', fulfilmentId),
        pickups: p.pickups.map((x) => (x === pickup ? { ...x, collected: { lines, at } } : x)),
      };
    }
    case 'OrderTransferShipped': {
      const { fulfilmentId, from, lines } = event.data;
      if (p.allocations.some((a) => a.fulfilmentId === fulfilmentId)) return p;
      return { ...p, allocations: move(p.allocations, { locationId: from, lines }, ['reserved', 'released'], 'in_transit', fulfilmentId) };
    }
    case 'OrderTransferReceived': {
      const { fulfilmentId, from, to, lines, reserved } = event.data;
      const sent = p.allocations.filter((a) => a.fulfilmentId === fulfilmentId && a.status === 'in_transit');
      if (sent.length === 0) return p;
      const arrived: AllocationPart[] = reserved ? [{ locationId: to, lines, status: 'reserved', allocationSeq: sent[0].allocationSeq, transfers: [], transferredFrom: from }] : [];
      return { ...p, allocations: [...p.allocations.map((a) => (sent.includes(a) ? { ...a, status: 'transferred' as const } : a)), ...arrived] };
    }
    case 'OrderPlaced':
    case 'OrderBackordered':
    case 'FraudAssessed':
    case 'OrderHeld':
    case 'OrderReviewed':
    case 'OrderReleased':
    case 'PaymentAuthorized':
    case 'PaymentDeclined':
    case 'PaymentCaptured':
    case 'PaymentVoided':
    case 'PaymentRefunded':
    case 'OrderReturnAuthorized':
    case 'OrderRefundRequested':
    case 'OrderRefundFailed':
      return p;
    default: {
      const unknown: never = event;
      void unknown;
      return p;
    }
  }
}

function newParts(allocations: LocationLines[], transfers: OrderAllocation['transfers'], allocationSeq: number): AllocationPart[] {
  return allocations.map((a) => ({
    locationId: a.locationId, lines: a.lines, status: 'reserved', allocationSeq, transfers: transfers.filter((t) => t.from === a.locationId),
  }));
}

/**
 * Moves units at a location from parts in one of the `from` statuses (in that order of
 * preference, oldest part first) to `to`, splitting a part of which only some units move.
 */
function move(parts: AllocationPart[], what: LocationLines, from: AllocationStatus[], to: AllocationStatus, fulfilmentId?: string): AllocationPart[] {
  const wanted = new Map(unitsBySku(what.lines).map((l) => [l.sku, l.quantity]));
  let result = parts;
  for (const status of from) {
    result = result.flatMap((part) => {
      if (part.locationId !== what.locationId || part.status !== status) return [part];
      const taken: SkuQuantity[] = [];
      const kept: SkuQuantity[] = [];
      for (const l of part.lines) {
        const n = Math.min(l.quantity, wanted.get(l.sku) ?? 0);
        if (n > 0) {
          taken.push({ sku: l.sku, quantity: n });
          wanted.set(l.sku, wanted.get(l.sku)! - n);
        }
        if (l.quantity > n) kept.push({ sku: l.sku, quantity: l.quantity - n });
      }
      if (taken.length === 0) return [part];
      const moved: AllocationPart = { ...part, lines: taken, status: to, ...(fulfilmentId === undefined ? {} : { fulfilmentId }) };
      return kept.length === 0 ? [moved] : [{ ...part, lines: kept }, { ...moved, transfers: [] }];
    });
  }
  return result;
}

/** Lines summed per SKU, in the order each SKU first appears. */
export function unitsBySku(lines: SkuQuantity[]): SkuQuantity[] {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l.sku, (m.get(l.sku) ?? 0) + l.quantity);
  return [...m].map(([sku, quantity]) => ({ sku, quantity }));
}

/**
 * Units [from, from + quantity) of one SKU laid along its lines, first line first: how many of
 * them each line holds (lines holding none are left out). How units are priced when a SKU was
 * sold on several lines: the first units at the first line's price.
 */
export function unitsAlong<L extends { quantity: number }>(lines: readonly L[], from: number, quantity: number): { line: L; quantity: number }[] {
  const out: { line: L; quantity: number }[] = [];
  let start = 0;
  for (const line of lines) {
    const end = start + line.quantity;
    const n = Math.max(0, Math.min(from + quantity, end) - Math.max(from, start));
    if (n > 0) out.push({ line, quantity: n });
    start = end;
  }
  return out;
}
