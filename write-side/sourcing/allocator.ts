import { ConflictError } from '../../platform/errors.js';
import type { WriteSide } from '../commands.js';
import type { CommandMetadata } from '../decider.js';
import { available } from '../inventory/stock.decider.js';
import { isClosed } from '../orders/order.state.js';
import type { LocationDetails } from '../locations/location.decider.js';
import type { SkuQuantity } from '../orders/order.events.js';
import { afterReallocation, ledgerKey, type Reallocation, type ReallocationCause, type ReallocationRequest } from './reallocation.js';
import { planSourcing, type Candidate, type SourcingCosts, type SourcingLocation, type SourcingPlan } from './sourcing.planner.js';

export interface AllocatorDeps {
  write: WriteSide;
  /** Every location (from the locations read model; a second old is fine). */
  locations(): Promise<LocationDetails[]>;
  /** Where each SKU has ever been stocked (from the stock read model): the ledgers worth reading. */
  stockedAt(skus: string[]): Promise<{ sku: string; locationId: string }[]>;
  /**
   * Fulfilments created at each location on the (UTC) day of `now`, by location id, for daily
   * capacities (from the fulfilments read model); asked only when some location has a capacity.
   */
  fulfilmentsToday(now: string): Promise<ReadonlyMap<string, number>>;
  costs: SourcingCosts;
}

type Held = { sku: string; locationId: string };

/** Units an order holds on each ledger by its own record (`sku@locationId`); none for a first allocation. */
type Holdings = ReadonlyMap<string, number>;
const NOTHING_HELD: Holdings = new Map();

export type AllocationOutcome = 'allocated' | 'backordered' | 'skipped' | 'cancelled';

/**
 * `skipped`: the order is unknown, closed or was never allocated; `cancelled`: it closed while
 * being re-sourced (what this run reserved is released); `unfillable`: nothing reserved, released
 * or recorded.
 */
export type ReallocationOutcome =
  | { outcome: 'reallocated'; reallocation: Reallocation }
  | { outcome: 'unfillable'; missing: SkuQuantity[]; why: string; candidates: Candidate[] }
  | { outcome: 'skipped' }
  | { outcome: 'cancelled' };

const EXCLUDED_BECAUSE: Record<ReallocationCause, string> = {
  rejected: 'excluded from re-sourcing after a rejected fulfilment',
  short_pick: 'excluded from re-sourcing after a short pick',
};

const RELEASED_BECAUSE: Record<ReallocationCause, string> = { rejected: 'fulfilment rejected', short_pick: 'short pick re-sourced' };

const ATTEMPTS = 6;

/**
 * Plans and reserves an order's stock. The plan is made on ledger states as last seen here and
 * reserved with optimistic concurrency on each ledger; a plan that cannot be reserved whole is
 * released and made again on fresh states. An order that cannot be filled is backordered.
 */
export function createAllocator(deps: AllocatorDeps) {
  const { write } = deps;

  /**
   * Every location with what its ledgers can promise. Usually from the ledgers where the SKUs are
   * known to be stocked, as last seen here; `fresh` reads every location's ledger from the store,
   * so an order is never backordered on a stale or lagging view.
   */
  async function sourcingLocations(skus: string[], fresh: boolean, now: string): Promise<SourcingLocation[]> {
    const locations = await deps.locations();
    const stocked = fresh ? locations.flatMap((l) => skus.map((sku) => ({ sku, locationId: l.locationId }))) : await deps.stockedAt(skus);
    const counts = locations.some((l) => l.dailyCapacity !== undefined) ? await deps.fulfilmentsToday(now) : new Map<string, number>();
    const byId = new Map(locations.map((l) => [l.locationId, { ...l, available: {} as Record<string, number>, fulfilmentsToday: counts.get(l.locationId) ?? 0 }]));
    await Promise.all(stocked.map(async ({ sku, locationId }) => {
      const loc = byId.get(locationId);
      if (!loc) return;
      loc.available[sku] = available(await write.loadLedger(sku, locationId, { cachedOk: !fresh }));
    }));
    return [...byId.values()];
  }

  /**
   * Reserves the plan whole on top of what the order already holds by its record, or brings the
   * ledgers this attempt changed back to that and says why not.
   */
  async function reserve(orderId: string, plan: Extract<SourcingPlan, { fillable: true }>, metadata: CommandMetadata, held = NOTHING_HELD): Promise<{ ok: true; made: Held[] } | { ok: false }> {
    const wanted = plan.allocations.flatMap((a) => a.lines.map((l) => ({ ...l, locationId: a.locationId, before: held.get(ledgerKey(l.sku, a.locationId)) ?? 0 })));
    const outcomes = await Promise.allSettled(wanted.map((w) => write.onLedger({
      type: 'ReserveStock',
      data: { sku: w.sku, locationId: w.locationId, orderId, quantity: w.before + w.quantity, ...(w.before > 0 ? { alreadyHeld: w.before } : {}) },
      metadata,
    })));
    const made = wanted.filter((_, i) => { const o = outcomes[i]; return o.status === 'fulfilled' && o.value.changed; });
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (!failed) return { ok: true, made };
    await release(orderId, made, 'allocation re-planned', metadata, held);
    const reason = failed.reason as { code?: string };
    if (failed.reason instanceof ConflictError && reason.code === 'stock.reserved_otherwise') {
      // An earlier, interrupted attempt holds a different quantity there: let it go and plan again.
      await release(orderId, wanted.filter((w, i) => (outcomes[i] as PromiseRejectedResult).reason === failed.reason), 'interrupted allocation', metadata, held);
      return { ok: false };
    }
    if (failed.reason instanceof ConflictError && reason.code === 'stock.insufficient') return { ok: false };
    throw failed.reason;
  }

  /** Releases what the order holds on these ledgers, down to what its record says it keeps there. */
  async function release(orderId: string, at: Held[], reason: string, metadata: CommandMetadata, keep = NOTHING_HELD): Promise<void> {
    await Promise.all(at.map((a) => {
      const kept = keep.get(ledgerKey(a.sku, a.locationId)) ?? 0;
      return write.onLedger({ type: 'ReleaseReservation', data: { sku: a.sku, locationId: a.locationId, orderId, reason, ...(kept > 0 ? { keep: kept } : {}) }, metadata });
    }));
  }

  /** Another attempt recorded the order's allocation first: give back what this one reserved outside it. */
  async function releaseOutside(orderId: string, made: Held[], metadata: CommandMetadata): Promise<void> {
    const order = await write.loadOrder(orderId, { fresh: true });
    const kept = new Set(order.status === 'none' ? [] : (order.allocation?.allocations ?? []).flatMap((a) => a.lines.map((l) => `${l.sku}@${a.locationId}`)));
    await release(orderId, made.filter((m) => !kept.has(`${m.sku}@${m.locationId}`)), 'allocated by another attempt', metadata);
  }

  /** Releases whatever this order holds at any location for its SKUs beyond what its record keeps there, read from the ledgers themselves. */
  async function releaseEverywhere(orderId: string, skus: string[], reason: string, metadata: CommandMetadata, keep = NOTHING_HELD): Promise<void> {
    const locations = await deps.locations();
    await release(orderId, locations.flatMap((l) => skus.map((sku) => ({ sku, locationId: l.locationId }))), reason, metadata, keep);
  }

  /** Brings the ledgers a re-allocation released down to what the order holds there once it is recorded. */
  async function releaseReallocated(r: Reallocation, held: Holdings, metadata: CommandMetadata): Promise<void> {
    const at = r.released.flatMap((a) => a.lines.map((l) => ({ sku: l.sku, locationId: a.locationId })));
    await release(r.orderId, at, RELEASED_BECAUSE[r.cause], metadata, held);
  }

  /** Another run recorded this re-allocation first: give back what this one reserved beyond the record, and finish that one's release. */
  async function adoptRecorded(orderId: string, allocationSeq: number, planned: Held[], metadata: CommandMetadata): Promise<ReallocationOutcome> {
    const record = await write.loadSourcingRecord(orderId);
    await release(orderId, planned, 'allocated by another attempt', metadata, record.held);
    const recorded = record.reallocations.find((r) => r.allocationSeq === allocationSeq);
    if (!recorded) throw new Error(`Re-allocation ${allocationSeq} of order ${orderId} was neither recorded nor refused`);
    await releaseReallocated(recorded, record.held, metadata);
    return { outcome: 'reallocated', reallocation: recorded };
  }

  return {
    /**
     * `fromBackorder` lets a backordered order be tried again; `afterCrash` first releases what an
     * interrupted earlier attempt may have reserved. Once `signal` is aborted, nothing more is
     * written: what was reserved stays for the next attempt (an `afterCrash` one) to release.
     */
    async allocate(orderId: string, metadata: CommandMetadata, options: { fromBackorder?: boolean; afterCrash?: boolean; signal?: AbortSignal } = {}): Promise<AllocationOutcome> {
      options.signal?.throwIfAborted();
      const order = await write.loadOrder(orderId, { fresh: options.afterCrash || options.fromBackorder });
      if (order.status === 'none') return 'skipped';
      const lines = sumBySku(order.order.lines);
      const skus = lines.map((l) => l.sku);
      // Strays from an interrupted attempt are released only where nothing else may be allocating
      // this order now: backorder fills own backordered orders, first allocation owns received ones.
      const backordered = order.missing !== null;
      const mine = isClosed(order) || backordered === Boolean(options.fromBackorder);
      if (options.afterCrash && !order.allocation && mine) await releaseEverywhere(orderId, skus, 'interrupted allocation', metadata);
      if (isClosed(order) || order.allocation) return 'skipped';
      if (backordered && !options.fromBackorder) return 'skipped';

      let plan: SourcingPlan | undefined;
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        plan = planSourcing({ lines, delivery: order.order.delivery }, await sourcingLocations(skus, attempt > 0, metadata.now), deps.costs);
        if (!plan.fillable) {
          if (attempt === 0) continue;                              // as seen here; look again before backordering
          break;
        }
        options.signal?.throwIfAborted();
        const reserved = await reserve(orderId, plan, metadata);
        if (!reserved.ok) continue;
        const { allocations, cost, why, candidates } = plan;
        const transfers = plan.kind === 'pickup' ? plan.transfers : [];
        try {
          options.signal?.throwIfAborted();
          const { recorded } = await write.recordAllocation({ orderId, allocations, transfers, cost, why, candidates }, metadata);
          if (!recorded) await releaseOutside(orderId, reserved.made, metadata);
          return 'allocated';
        } catch (err) {
          // Any other failure may have recorded the allocation after all: keep the stock, and let
          // the retried job (afterCrash) find out which it was.
          if (!(err instanceof ConflictError && (err.code === 'order.cancelled' || err.code === 'order.rejected'))) throw err;
          await release(orderId, allocations.flatMap((a) => a.lines.map((l) => ({ sku: l.sku, locationId: a.locationId }))), 'order cancelled', metadata);
          return 'cancelled';
        }
      }
      if (backordered) return 'backordered';
      const missing = plan && !plan.fillable ? plan.missing : lines;
      options.signal?.throwIfAborted();
      await write.recordBackorder({ orderId, missing, why: plan?.why ?? 'stock kept moving while reserving', candidates: plan?.candidates ?? [] }, metadata);
      return 'backordered';
    },

    /** Releases everything a cancelled or rejected order holds, wherever an attempt may have reserved it. */
    async releaseOrder(orderId: string, metadata: CommandMetadata): Promise<void> {
      const order = await write.loadOrder(orderId, { fresh: true });
      if (order.status === 'none') return;
      await releaseEverywhere(orderId, sumBySku(order.order.lines).map((l) => l.sku), 'order cancelled', metadata);
    },

    /**
     * Re-sources part of an allocated order through the same planner and delivery, never at the
     * excluded locations nor where the lines are released: reserves the new plan whole (on top of
     * what the order already holds at a location), records it on the order, then releases what the
     * old locations held for those lines, down to what the order keeps there (a short pick's
     * missing units must already be written off). A re-run of the same allocationSeq reserves and
     * records nothing again; `afterCrash` first releases what an interrupted run reserved beyond
     * the order's record. Nothing is written once `signal` is aborted.
     */
    async reallocate(orderId: string, request: ReallocationRequest, metadata: CommandMetadata, options: { afterCrash?: boolean; signal?: AbortSignal } = {}): Promise<ReallocationOutcome> {
      options.signal?.throwIfAborted();
      const order = await write.loadOrder(orderId, { fresh: true });
      if (order.status === 'none' || isClosed(order)) return { outcome: 'skipped' };
      const record = await write.loadSourcingRecord(orderId);
      if (!record.allocated) return { outcome: 'skipped' };
      const { allocationSeq, release: released, cause } = request;
      const done = record.reallocations.find((r) => r.allocationSeq === allocationSeq);
      if (done) {
        await releaseReallocated(done, record.held, metadata);
        return { outcome: 'reallocated', reallocation: done };
      }
      const next = record.reallocations.reduce((n, r) => Math.max(n, r.allocationSeq), 0) + 1;
      if (allocationSeq !== next) {
        throw new ConflictError('sourcing.reallocation_out_of_turn', `Order ${orderId} is due re-allocation ${next}, not ${allocationSeq}`);
      }
      afterReallocation(record.held, { released, allocations: [] });           // refuses releasing what the order does not hold
      const lines = sumBySku(request.lines);
      const skus = lines.map((l) => l.sku);
      if (options.afterCrash) await releaseEverywhere(orderId, skus, 'interrupted allocation', metadata, record.held);
      const excludedIds = new Set([...request.exclude, ...released.map((r) => r.locationId)]);
      const exclude = [...excludedIds].map((locationId) => ({ locationId, reason: EXCLUDED_BECAUSE[cause] }));

      let plan: SourcingPlan | undefined;
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        plan = planSourcing({ lines, delivery: order.order.delivery, exclude }, await sourcingLocations(skus, attempt > 0, metadata.now), deps.costs);
        if (!plan.fillable) {
          if (attempt === 0) continue;                              // as seen here; look again before giving up
          break;
        }
        options.signal?.throwIfAborted();
        const reserved = await reserve(orderId, plan, metadata, record.held);
        if (!reserved.ok) continue;
        const { allocations, cost, why, candidates } = plan;
        const reallocation: Reallocation = {
          orderId, released, allocations, transfers: plan.kind === 'pickup' ? plan.transfers : [], allocationSeq, why, candidates, cost, cause,
        };
        const planned = allocations.flatMap((a) => a.lines.map((l) => ({ sku: l.sku, locationId: a.locationId })));
        try {
          options.signal?.throwIfAborted();
          const { recorded } = await write.recordReallocation(reallocation, metadata);
          if (!recorded) return await adoptRecorded(orderId, allocationSeq, planned, metadata);
        } catch (err) {
          // As in allocate: any other failure may have recorded it after all; the re-run finds out.
          if (!(err instanceof ConflictError && (err.code === 'order.cancelled' || err.code === 'order.rejected'))) throw err;
          await release(orderId, planned, 'order cancelled', metadata, record.held);
          return { outcome: 'cancelled' };
        }
        await releaseReallocated(reallocation, afterReallocation(record.held, reallocation), metadata);
        return { outcome: 'reallocated', reallocation };
      }
      if (plan && !plan.fillable) return { outcome: 'unfillable', missing: plan.missing, why: plan.why, candidates: plan.candidates };
      return { outcome: 'unfillable', missing: lines, why: 'stock kept moving while reserving', candidates: plan?.candidates ?? [] };
    },

    /** What could fill these lines now, without reserving anything. */
    async plan(lines: SkuQuantity[], delivery: Parameters<typeof planSourcing>[0]['delivery'], now = new Date().toISOString()): Promise<SourcingPlan> {
      const summed = sumBySku(lines);
      return planSourcing({ lines: summed, delivery }, await sourcingLocations(summed.map((l) => l.sku), true, now), deps.costs);
    },
  };
}

export type Allocator = ReturnType<typeof createAllocator>;

function sumBySku(lines: SkuQuantity[]): SkuQuantity[] {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l.sku, (m.get(l.sku) ?? 0) + l.quantity);
  return [...m].map(([sku, quantity]) => ({ sku, quantity }));
}
