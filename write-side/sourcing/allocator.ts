import { ConflictError } from '../../platform/errors.js';
import type { WriteSide } from '../commands.js';
import type { CommandMetadata } from '../decider.js';
import { available } from '../inventory/stock.decider.js';
import { isClosed, type PlacedState } from '../orders/order.state.js';
import { waitingForStock } from '../orders/order-progress.js';
import type { LocationDetails } from '../locations/location.decider.js';
import type { SkuQuantity } from '../orders/order.events.js';
import {
  afterReallocation, givenBack, ledgerKey, recordedFor, type GiveBackCause, type Reallocation, type ReallocationRequest, type SourcingRecord,
} from './reallocation.js';
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
 * `reallocated`: recorded, with what could not be placed anywhere backordered (a give-back
 * always ends so); `skipped`: the order is unknown, closed, was never allocated, or (for a
 * backorder) waits for nothing; `cancelled`: it closed while being re-sourced (what this run
 * reserved is released); `unfillable`: a backorder that still cannot be filled whole, nothing
 * reserved or recorded.
 */
export type ReallocationOutcome =
  | { outcome: 'reallocated'; reallocation: Reallocation }
  | { outcome: 'unfillable'; missing: SkuQuantity[]; why: string; candidates: Candidate[] }
  | { outcome: 'skipped' }
  | { outcome: 'cancelled' };

const EXCLUDED_BECAUSE: Record<GiveBackCause, string> = {
  rejected: 'excluded from re-sourcing after a rejected fulfilment',
  short_pick: 'excluded from re-sourcing after a short pick',
};

const RELEASED_BECAUSE: Record<GiveBackCause, string> = { rejected: 'fulfilment rejected', short_pick: 'short pick re-sourced' };

const ATTEMPTS = 6;

/** Another re-allocation of the order was recorded under the number this run meant to use. */
const LOST_TURN = Symbol('lost turn');

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
    if (r.cause === 'backorder') return;                              // it released nothing
    const at = r.released.flatMap((a) => a.lines.map((l) => ({ sku: l.sku, locationId: a.locationId })));
    await release(r.orderId, at, RELEASED_BECAUSE[r.cause], metadata, held);
  }

  /** Another run recorded this re-allocation first: give back what this one reserved beyond the record, and finish that one's release. */
  async function adoptRecorded(r: Reallocation, planned: Held[], metadata: CommandMetadata): Promise<ReallocationOutcome> {
    const record = await write.loadSourcingRecord(r.orderId);
    await release(r.orderId, planned, 'allocated by another attempt', metadata, record.held);
    const recorded = r.causeEventId !== undefined ? recordedFor(record.reallocations, r.causeEventId)
      : record.reallocations.find((x) => x.allocationSeq === r.allocationSeq && x.cause === r.cause);
    if (!recorded) throw new Error(`Re-allocation ${r.allocationSeq} of order ${r.orderId} was neither recorded nor refused`);
    await releaseReallocated(recorded, record.held, metadata);
    return { outcome: 'reallocated', reallocation: recorded };
  }

  /**
   * Records a re-allocation this run has reserved (`planned`), then releases what it released. A
   * closed order gets back what was reserved; another re-allocation recorded first under the same
   * number (or a backorder no longer the same) is a lost turn, what was reserved given back first.
   */
  async function recordReallocated(r: Reallocation, record: SourcingRecord, planned: Held[], metadata: CommandMetadata, signal?: AbortSignal): Promise<ReallocationOutcome | typeof LOST_TURN> {
    try {
      signal?.throwIfAborted();
      const { recorded } = await write.recordReallocation(r, metadata);
      if (!recorded) return await adoptRecorded(r, planned, metadata);
    } catch (err) {
      // As in allocate: any other failure may have recorded it after all; the re-run finds out.
      if (!(err instanceof ConflictError)) throw err;
      if (err.code === 'order.cancelled' || err.code === 'order.rejected') {
        await release(r.orderId, planned, 'order cancelled', metadata, record.held);
        return { outcome: 'cancelled' };
      }
      if (err.code !== 'order.reallocation_out_of_order' && err.code !== 'order.backorder_fill_mismatch') throw err;
      await release(r.orderId, planned, 'allocated by another attempt', metadata, (await write.loadSourcingRecord(r.orderId)).held);
      return LOST_TURN;
    }
    await releaseReallocated(r, afterReallocation(record.held, r), metadata);
    return { outcome: 'reallocated', reallocation: r };
  }

  /** One turn of `reallocate`, on the order's record as it is now. */
  async function reallocateOnce(order: PlacedState, request: ReallocationRequest, metadata: CommandMetadata,
    options: { afterCrash?: boolean; signal?: AbortSignal }): Promise<ReallocationOutcome | typeof LOST_TURN> {
    const { orderId } = order.order;
    const record = await write.loadSourcingRecord(orderId);
    if (!record.allocated) return { outcome: 'skipped' };
    const giveBack = request.cause === 'backorder' ? undefined : request;
    if (giveBack) {
      const done = recordedFor(record.reallocations, giveBack.causeEventId);
      if (done) {
        await releaseReallocated(done, record.held, metadata);
        return { outcome: 'reallocated', reallocation: done };
      }
    }
    const released = giveBack?.release ?? [];
    afterReallocation(record.held, { released, allocations: [] });           // refuses releasing what the order does not hold
    const lines = sumBySku(giveBack ? giveBack.lines : waitingForStock(order.progress));
    if (lines.length === 0) return { outcome: 'skipped' };
    const skus = lines.map((l) => l.sku);
    if (options.afterCrash) await releaseEverywhere(orderId, skus, 'interrupted allocation', metadata, record.held);
    const allocationSeq = record.reallocations.reduce((n, r) => Math.max(n, r.allocationSeq), 0) + 1;
    // Never where these lines are given back now, nor where the order's lines of these SKUs were given back before.
    const excluded = new Map<string, string>();
    for (const g of givenBack([...record.reallocations, ...(giveBack ? [{ cause: giveBack.cause, released }] : [])])) {
      if (skus.includes(g.sku) && !excluded.has(g.locationId)) excluded.set(g.locationId, EXCLUDED_BECAUSE[g.cause]);
    }
    const exclude = [...excluded].map(([locationId, reason]) => ({ locationId, reason }));
    const { delivery } = order.order;
    const ids = giveBack ? { fulfilmentId: giveBack.fulfilmentId, causeEventId: giveBack.causeEventId } : {};

    let plan: SourcingPlan | undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const at = await sourcingLocations(skus, attempt > 0, metadata.now);
      plan = planSourcing({ lines, delivery, exclude }, at, deps.costs);
      let fill = plan.fillable ? plan : undefined;
      let backordered: SkuQuantity[] = [];
      if (!plan.fillable) {
        if (attempt === 0) continue;                                // as seen here; look again before giving up
        if (!giveBack) break;                                       // a backorder is filled whole or waits on
        // Given back and not wanted anywhere else: what some location can take goes there, the rest waits for stock.
        backordered = plan.missing;
        const placeable = less(lines, backordered);
        if (placeable.length > 0) {
          const part = planSourcing({ lines: placeable, delivery, exclude }, at, deps.costs);
          if (!part.fillable) continue;
          fill = part;
        }
      }
      options.signal?.throwIfAborted();
      if (fill && !(await reserve(orderId, fill, metadata, record.held)).ok) continue;
      const why = backordered.length === 0 ? plan.why : fill ? `${fill.why}; the rest is backordered: ${plan.why}` : `backordered: ${plan.why}`;
      const reallocation: Reallocation = {
        orderId, released, allocations: fill?.allocations ?? [], transfers: fill?.kind === 'pickup' ? fill.transfers : [], allocationSeq, why,
        candidates: plan.candidates, cost: fill?.cost ?? 0, cause: request.cause, backordered, ...ids,
      };
      return recordReallocated(reallocation, record, planned(reallocation), metadata, options.signal);
    }
    if (giveBack) {
      // Stock kept moving under every plan: the lines wait for stock, where the backorder job finds them.
      const why = 'backordered: stock kept moving while reserving';
      const reallocation: Reallocation = {
        orderId, released, allocations: [], transfers: [], allocationSeq, why, candidates: plan?.candidates ?? [], cost: 0, cause: giveBack.cause, backordered: lines, ...ids,
      };
      return recordReallocated(reallocation, record, [], metadata, options.signal);
    }
    if (plan && !plan.fillable) return { outcome: 'unfillable', missing: plan.missing, why: plan.why, candidates: plan.candidates };
    return { outcome: 'unfillable', missing: lines, why: 'stock kept moving while reserving', candidates: plan?.candidates ?? [] };
  }

  async function reallocate(orderId: string, request: ReallocationRequest, metadata: CommandMetadata, options: { afterCrash?: boolean; signal?: AbortSignal } = {}): Promise<ReallocationOutcome> {
    for (let turn = 0; turn < ATTEMPTS; turn++) {
      options.signal?.throwIfAborted();
      const order = await write.loadOrder(orderId, { fresh: true });
      if (order.status === 'none' || isClosed(order)) return { outcome: 'skipped' };
      const outcome = await reallocateOnce(order, request, metadata, { ...options, afterCrash: options.afterCrash && turn === 0 });
      if (outcome !== LOST_TURN) return outcome;
    }
    throw new Error(`Other re-allocations of order ${orderId} kept being recorded first; try again`);
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
      if (isClosed(order)) return 'skipped';
      if (order.allocation) {
        // Allocated, with lines given back that no location could take: filled as a re-allocation once stock is there.
        if (!options.fromBackorder) return 'skipped';
        const filled = await reallocate(orderId, { cause: 'backorder' }, metadata, options);
        return filled.outcome === 'reallocated' ? 'allocated' : filled.outcome === 'unfillable' ? 'backordered' : filled.outcome;
      }
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
     * Re-sources part of an allocated order through the same planner and delivery, never where the
     * lines are released nor where the order's lines of those SKUs were given back before: reserves
     * the new plan whole (on top of what the order already holds at a location), records it on the
     * order, then releases what the old locations held for those lines, down to what the order
     * keeps there (a short pick's missing units must already be written off). Lines given back
     * that no location can take are recorded backordered in the same re-allocation (and released
     * all the same). The re-run for the same give-back event reserves and records nothing again;
     * `afterCrash` first releases what an interrupted run reserved beyond the order's record.
     * Nothing is written once `signal` is aborted. A re-allocation recorded first by another run
     * (the fulfilment process and the backorder job both re-allocate) makes this one release what
     * it reserved and plan again under the next number. Known corner: the two runs for the same
     * SKU of one order at the same moment can release each other's reservation not yet recorded
     * (a ledger holding more than the record says is taken for an interrupted run's).
     */
    reallocate,

    /** What could fill these lines now, without reserving anything. */
    async plan(lines: SkuQuantity[], delivery: Parameters<typeof planSourcing>[0]['delivery'], now = new Date().toISOString()): Promise<SourcingPlan> {
      const summed = sumBySku(lines);
      return planSourcing({ lines: summed, delivery }, await sourcingLocations(summed.map((l) => l.sku), true, now), deps.costs);
    },
  };
}

export type Allocator = ReturnType<typeof createAllocator>;

/** Where a re-allocation newly reserves. */
function planned(r: Reallocation): Held[] {
  return r.allocations.flatMap((a) => a.lines.map((l) => ({ sku: l.sku, locationId: a.locationId })));
}

/** `lines` less `minus`, per SKU. */
function less(lines: SkuQuantity[], minus: SkuQuantity[]): SkuQuantity[] {
  const left = new Map(sumBySku(lines).map((l) => [l.sku, l.quantity]));
  for (const m of minus) left.set(m.sku, (left.get(m.sku) ?? 0) - m.quantity);
  return [...left].filter(([, q]) => q > 0).map(([sku, quantity]) => ({ sku, quantity }));
}

function sumBySku(lines: SkuQuantity[]): SkuQuantity[] {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l.sku, (m.get(l.sku) ?? 0) + l.quantity);
  return [...m].map(([sku, quantity]) => ({ sku, quantity }));
}
