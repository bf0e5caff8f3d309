import { ConflictError } from '../../platform/errors.js';
import type { WriteSide } from '../commands.js';
import type { CommandMetadata } from '../decider.js';
import { available } from '../inventory/stock.decider.js';
import { isClosed } from '../orders/order.state.js';
import type { LocationDetails } from '../locations/location.decider.js';
import type { SkuQuantity } from '../orders/order.events.js';
import { planSourcing, type SourcingCosts, type SourcingLocation, type SourcingPlan } from './sourcing.planner.js';

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

export type AllocationOutcome = 'allocated' | 'backordered' | 'skipped' | 'cancelled';

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

  /** Reserves the plan whole, or releases what this attempt reserved and says why not. */
  async function reserve(orderId: string, plan: Extract<SourcingPlan, { fillable: true }>, metadata: CommandMetadata): Promise<{ ok: true; made: Held[] } | { ok: false }> {
    const wanted = plan.allocations.flatMap((a) => a.lines.map((l) => ({ ...l, locationId: a.locationId })));
    const outcomes = await Promise.allSettled(wanted.map((w) =>
      write.onLedger({ type: 'ReserveStock', data: { sku: w.sku, locationId: w.locationId, orderId, quantity: w.quantity }, metadata })));
    const made = wanted.filter((_, i) => { const o = outcomes[i]; return o.status === 'fulfilled' && o.value.changed; });
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (!failed) return { ok: true, made };
    await release(orderId, made, 'allocation re-planned', metadata);
    const reason = failed.reason as { code?: string };
    if (failed.reason instanceof ConflictError && reason.code === 'stock.reserved_otherwise') {
      // An earlier, interrupted attempt holds a different quantity there: let it go and plan again.
      await release(orderId, wanted.filter((w, i) => (outcomes[i] as PromiseRejectedResult).reason === failed.reason), 'interrupted allocation', metadata);
      return { ok: false };
    }
    if (failed.reason instanceof ConflictError && reason.code === 'stock.insufficient') return { ok: false };
    throw failed.reason;
  }

  async function release(orderId: string, at: Held[], reason: string, metadata: CommandMetadata): Promise<void> {
    await Promise.all(at.map((a) => write.onLedger({ type: 'ReleaseReservation', data: { sku: a.sku, locationId: a.locationId, orderId, reason }, metadata })));
  }

  /** Another attempt recorded the order's allocation first: give back what this one reserved outside it. */
  async function releaseOutside(orderId: string, made: Held[], metadata: CommandMetadata): Promise<void> {
    const order = await write.loadOrder(orderId, { fresh: true });
    const kept = new Set(order.status === 'none' ? [] : (order.allocation?.allocations ?? []).flatMap((a) => a.lines.map((l) => `${l.sku}@${a.locationId}`)));
    await release(orderId, made.filter((m) => !kept.has(`${m.sku}@${m.locationId}`)), 'allocated by another attempt', metadata);
  }

  /** Releases whatever this order holds at any location for its SKUs, read from the ledgers themselves. */
  async function releaseEverywhere(orderId: string, skus: string[], reason: string, metadata: CommandMetadata): Promise<void> {
    const locations = await deps.locations();
    await release(orderId, locations.flatMap((l) => skus.map((sku) => ({ sku, locationId: l.locationId }))), reason, metadata);
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
