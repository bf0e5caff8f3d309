import { DEFAULT_SOURCING_COSTS, type SourcingCosts } from '../../platform/config.js';
import { ValidationError } from '../../platform/errors.js';
import type { LocationDetails } from '../locations/location.decider.js';
import type { Delivery } from '../orders/order.events.js';

/** A candidate location and what it can promise now (available is net of reserved, quarantined and safety stock). */
export interface SourcingLocation extends Omit<LocationDetails, 'name' | 'cutoffHour'> {
  available: Record<string, number>;
  /** Fulfilments created at the location today, counted against its daily capacity (none when absent). */
  fulfilmentsToday?: number;
}

export type { SourcingCosts };
export { DEFAULT_SOURCING_COSTS };

/** `exclude`: locations that must not fill these lines, each with the reason its candidate entry gives. */
export type SourcingRequest = { lines: { sku: string; quantity: number }[]; delivery: Delivery; exclude?: { locationId: string; reason: string }[] };
export interface Candidate { locationId: string; eligible: boolean; reason: string; distanceKm?: number; canFill: { sku: string; quantity: number }[]; cost?: number }
export interface Allocation { locationId: string; lines: { sku: string; quantity: number }[] }
export interface Transfer { from: string; to: string; lines: { sku: string; quantity: number }[] }
export type SourcingPlan =
  | { kind: 'ship'; fillable: true; allocations: Allocation[]; cost: number; candidates: Candidate[]; why: string }
  | { kind: 'pickup'; fillable: true; allocations: Allocation[]; transfers: Transfer[]; pickupLocationId: string; cost: number; candidates: Candidate[]; why: string }
  | { fillable: false; missing: { sku: string; quantity: number }[]; partial?: Allocation[]; candidates: Candidate[]; why: string };

type Need = Map<string, number>;
type Geo = { lat: number; lon: number };
interface Source { locationId: string; cost: number; distanceKm?: number; available: Record<string, number> }
interface Choice { used: Source[]; allocations: Allocation[]; cost: number }
interface Evaluated { candidate: Candidate; source?: Source }

const EXACT_SEARCH_LIMIT = 12;

/** Great-circle distance in km (haversine, mean Earth radius). */
export function distanceKm(a: Geo, b: Geo): number {
  const rad = (deg: number) => (deg * Math.PI) / 180;
  const h = Math.sin(rad(b.lat - a.lat) / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lon - a.lon) / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A location that has taken on as many fulfilments today as its daily capacity allows takes no more. */
export function atDailyCapacity(loc: Pick<SourcingLocation, 'dailyCapacity' | 'fulfilmentsToday'>): boolean {
  return loc.dailyCapacity !== undefined && (loc.fulfilmentsToday ?? 0) >= loc.dailyCapacity;
}

export function planSourcing(request: SourcingRequest, locations: SourcingLocation[], costs: SourcingCosts = DEFAULT_SOURCING_COSTS): SourcingPlan {
  const need = sumLines(request.lines);
  const { delivery } = request;
  const excluded = new Map((request.exclude ?? []).map((e) => [e.locationId, e.reason]));
  return delivery.method === 'ship'
    ? planShipment(need, delivery, locations, excluded, costs)
    : planPickup(need, delivery.locationId, locations, excluded, costs);
}

/** Why a location cannot fill anything now although it is open for the delivery: excluded, or full today. */
function unavailable(loc: SourcingLocation, excluded: Map<string, string>): string | undefined {
  const reason = excluded.get(loc.locationId);
  if (reason !== undefined) return reason;
  if (atDailyCapacity(loc)) return `at daily capacity: ${loc.fulfilmentsToday ?? 0} of ${loc.dailyCapacity} fulfilments today`;
  return undefined;
}

function planShipment(need: Need, delivery: Extract<Delivery, { method: 'ship' }>, locations: SourcingLocation[], excluded: Map<string, string>, costs: SourcingCosts): SourcingPlan {
  const dest = delivery.address.geo;
  const perKm = costs.shippingPerKm * (delivery.speed === 'express' ? costs.expressPerKmFactor : 1);
  const evaluated = locations.map((loc): Evaluated => {
    const km = dest ? distanceKm(loc.geo, dest) : undefined;
    if (!loc.active) return ineligible(loc, 'inactive', km);
    if (!loc.canShip) return ineligible(loc, 'cannot ship', km);
    const not = unavailable(loc, excluded);
    if (not) return ineligible(loc, not, km);
    return evaluate(loc, need, km, loc.handlingCost + costs.shippingBase + perKm * (km ?? 0));
  });
  const candidates = rank(evaluated);
  const sources = evaluated.flatMap((e) => (e.source ? [e.source] : []));
  const noGeo = dest ? '' : '; the address has no coordinates, so distance counts as 0 and only handling differs';
  const missing = shortfall(need, sources);
  if (missing.length > 0) return { fillable: false, missing, candidates, why: `not enough stock in the network: ${describeLines(missing, 'short by')}${noGeo}` };

  const choice = chooseSources(need, sources, costs.extraParcelPenalty)!;
  const ids = choice.used.map((s) => s.locationId);
  const plan = { kind: 'ship' as const, fillable: true as const, allocations: choice.allocations, cost: choice.cost, candidates };
  if (choice.used.length > 1) {
    const bestSingle = sources.filter((s) => covers([s], need)).sort(byCost)[0];
    const why = bestSingle
      ? `splitting across ${joinIds(ids)} costs ${money(choice.cost)}, less than the best single location ${bestSingle.locationId} (${money(bestSingle.cost)})`
      : `${noSingleSource(need, sources)}; split across ${joinIds(ids)} (cost ${money(choice.cost)})`;
    return { ...plan, why: why + noGeo };
  }
  const [winner] = choice.used;
  if (delivery.speed === 'express' && dest) {
    const nearest = sources.filter((s) => covers([s], need)).sort((a, b) => (a.distanceKm! - b.distanceKm!) || byId(a, b))[0];
    if (nearest === winner) return { ...plan, why: `express: nearest location that can fill, ${winner.locationId}, ${Math.round(winner.distanceKm!)} km away (cost ${money(winner.cost)})` };
    return { ...plan, why: `express: ${winner.locationId} fills the whole order at the lowest express cost (${money(winner.cost)}), ahead of nearer ${nearest.locationId}` };
  }
  return { ...plan, why: `${winner.locationId} fills the whole order at the lowest cost (${money(winner.cost)})${noGeo}` };
}

function planPickup(need: Need, storeId: string, locations: SourcingLocation[], excluded: Map<string, string>, costs: SourcingCosts): SourcingPlan {
  const store = locations.find((l) => l.locationId === storeId);
  if (!store || !store.active || !store.canPickup) {
    const reason = !store ? 'unknown' : !store.active ? 'inactive' : 'does not offer pickup';
    const candidates = store ? [{ locationId: storeId, eligible: false, reason: `pickup location ${reason}`, canFill: [] }] : [];
    const what = reason === 'does not offer pickup' ? reason : `is ${reason}`;
    return { fillable: false, missing: toLines(need), candidates, why: `pickup location ${storeId} ${what}, so the order cannot be collected there` };
  }
  // A store that cannot fill from its own stock now (excluded, or full today) still hands the order over.
  const storeNot = unavailable(store, excluded);
  const own = storeNot ? undefined : allocate(need, [store])[0];
  const rest = subtract(need, own?.lines ?? []);
  const held = sum(need) - sum(rest);
  const storeCandidate: Candidate = {
    locationId: storeId, eligible: true, distanceKm: 0, canFill: own?.lines ?? [], cost: store.handlingCost,
    reason: storeNot ? `pickup location; ${storeNot}, so none of its own stock is used`
      : rest.size === 0 ? 'pickup location; holds every line' : `pickup location; holds ${held} of ${sum(need)} units`,
  };
  const evaluated = locations.filter((l) => l.locationId !== storeId).map((loc): Evaluated => {
    const km = distanceKm(loc.geo, store.geo);
    if (!loc.active) return ineligible(loc, 'inactive', km);
    if (loc.type === 'store' && !loc.canShip) return ineligible(loc, 'store that cannot ship', km);
    if (rest.size === 0) return ineligible(loc, 'not needed: the pickup location holds every line', km);
    const not = unavailable(loc, excluded);
    if (not) return ineligible(loc, not, km);
    return evaluate(loc, rest, km, costs.transferBase + costs.transferPerKm * km);
  });
  const candidates = [storeCandidate, ...rank(evaluated)];
  const base = { kind: 'pickup' as const, fillable: true as const, pickupLocationId: storeId, candidates };
  if (own && rest.size === 0) {
    return { ...base, allocations: [own], transfers: [], cost: store.handlingCost, why: `${storeId} holds every line, ready for pickup with no transfers` };
  }
  const sources = evaluated.flatMap((e) => (e.source ? [e.source] : []));
  const missing = shortfall(rest, sources);
  if (missing.length > 0) return { fillable: false, missing, candidates, why: `not enough stock to collect at ${storeId}, even with transfers: ${describeLines(missing, 'short by')}` };

  const choice = chooseSources(rest, sources, 0)!;
  const transfers = choice.allocations.map((a): Transfer => ({ from: a.locationId, to: storeId, lines: a.lines }));
  const from = joinIds(choice.used.map((s) => s.locationId));
  const holds = storeNot ? `${storeId} fills nothing itself (${storeNot}); everything`
    : `${held === 0 ? `${storeId} holds none of the order` : `${storeId} holds ${held} of ${sum(need)} units`}; the rest`;
  const cheapest = choice.used.length === 1 ? ', the cheapest source' : '';
  return {
    ...base, allocations: own ? [own, ...choice.allocations] : choice.allocations, transfers, cost: store.handlingCost + choice.cost,
    why: `${holds} transfers from ${from}${cheapest} (transfer cost ${money(choice.cost)})`,
  };
}

/** The cheapest single source that covers the need, unless a split of sources is strictly cheaper. */
function chooseSources(need: Need, sources: Source[], penalty: number): Choice | undefined {
  const ordered = [...sources].sort(byCost);
  const single = ordered.find((s) => covers([s], need));
  const singleChoice = single && toChoice(need, [single], penalty);
  const split = bestSplit(need, ordered, penalty, singleChoice?.cost);
  return singleChoice && (!split || split.cost >= singleChoice.cost) ? singleChoice : split;
}

/**
 * The cheapest split over two or three sources (or a greedy one over many). With a single source
 * costing `single`, a set whose sources and parcels alone cost that much is not worth filling in:
 * a set with a source it leaves unused is the same choice as the smaller set, tried on its own.
 */
function bestSplit(need: Need, ordered: Source[], penalty: number, single?: number): Choice | undefined {
  if (ordered.length > EXACT_SEARCH_LIMIT) return greedySplit(need, ordered, penalty);
  let best: Choice | undefined;
  const consider = (set: Source[]) => {
    const floor = set.reduce((n, s) => n + s.cost, 0) + penalty * (set.length - 1);
    if ((single !== undefined && floor >= single) || (best && floor > best.cost)) return;
    if (!covers(set, need)) return;
    const choice = toChoice(need, set, penalty);
    if (!best || compareChoices(choice, best) < 0) best = choice;
  };
  for (let i = 0; i < ordered.length; i++) {
    for (let j = i + 1; j < ordered.length; j++) {
      consider([ordered[i], ordered[j]]);
      for (let k = j + 1; k < ordered.length; k++) consider([ordered[i], ordered[j], ordered[k]]);
    }
  }
  return best ?? (single === undefined ? greedySplit(need, ordered, penalty) : undefined);
}

/** Repeatedly takes the source filling the most remaining units per unit of cost. */
function greedySplit(need: Need, ordered: Source[], penalty: number): Choice | undefined {
  const remaining = new Map(need);
  const picked: Source[] = [];
  while (sum(remaining) > 0) {
    let best: Source | undefined;
    let bestUnits = 0;
    for (const s of ordered) {
      const units = fillable(s, remaining).reduce((n, l) => n + l.quantity, 0);
      if (units === 0 || picked.includes(s)) continue;
      if (!best || units * best.cost > bestUnits * s.cost || (units * best.cost === bestUnits * s.cost && units > bestUnits)) {
        best = s;
        bestUnits = units;
      }
    }
    if (!best) return undefined;
    picked.push(best);
    for (const line of fillable(best, remaining)) remaining.set(line.sku, remaining.get(line.sku)! - line.quantity);
  }
  return toChoice(need, picked.sort(byCost), penalty);
}

function toChoice(need: Need, set: Source[], penalty: number): Choice {
  const allocations = allocate(need, set.map((s) => ({ locationId: s.locationId, available: s.available })));
  const used = set.filter((s) => allocations.some((a) => a.locationId === s.locationId));
  const cost = used.reduce((n, s) => n + s.cost, 0) + penalty * Math.max(0, used.length - 1);
  return { used, allocations, cost };
}

/** Fills each line from the locations in the order given; a line may spread over several. */
function allocate(need: Need, ordered: { locationId: string; available: Record<string, number> }[]): Allocation[] {
  const remaining = new Map(need);
  return ordered
    .map((loc) => {
      const lines = fillable(loc, remaining);
      for (const line of lines) remaining.set(line.sku, remaining.get(line.sku)! - line.quantity);
      return { locationId: loc.locationId, lines };
    })
    .filter((a) => a.lines.length > 0);
}

function compareChoices(a: Choice, b: Choice): number {
  return a.cost - b.cost || a.used.length - b.used.length || compareText(idsOf(a), idsOf(b));
}

function evaluate(loc: SourcingLocation, need: Need, km: number | undefined, rawCost: number): Evaluated {
  const canFill = fillable(loc, need);
  if (canFill.length === 0) return ineligible(loc, `no stock of ${[...need.keys()].join(', ')}`, km);
  const short = subtract(need, canFill);
  const reason = short.size === 0 ? 'can fill every line' : `can fill part; ${describeLines(toLines(short), 'short of')}`;
  const cost = Math.round(rawCost);
  return {
    candidate: { locationId: loc.locationId, eligible: true, reason, distanceKm: km, canFill, cost },
    source: { locationId: loc.locationId, cost, distanceKm: km, available: loc.available },
  };
}

function ineligible(loc: SourcingLocation, reason: string, km: number | undefined): Evaluated {
  return { candidate: { locationId: loc.locationId, eligible: false, reason, distanceKm: km, canFill: [] } };
}

function rank(evaluated: Evaluated[]): Candidate[] {
  return evaluated.map((e) => e.candidate).sort((a, b) =>
    Number(b.eligible) - Number(a.eligible) || (a.cost ?? 0) - (b.cost ?? 0) || compareText(a.locationId, b.locationId));
}

function sumLines(lines: { sku: string; quantity: number }[]): Need {
  if (lines.length === 0) throw new ValidationError('sourcing.no_lines', 'Nothing to source: the request has no lines');
  const need: Need = new Map();
  for (const { sku, quantity } of lines) {
    if (!Number.isInteger(quantity) || quantity <= 0) throw new ValidationError('sourcing.bad_quantity', `Quantity of ${sku} must be a positive integer`);
    need.set(sku, (need.get(sku) ?? 0) + quantity);
  }
  return need;
}

function fillable(loc: { available: Record<string, number> }, need: Need): { sku: string; quantity: number }[] {
  return [...need].flatMap(([sku, wanted]) => {
    const quantity = Math.min(wanted, Math.max(0, Math.floor(loc.available[sku] ?? 0)));
    return quantity > 0 ? [{ sku, quantity }] : [];
  });
}

function covers(set: Source[], need: Need): boolean {
  return shortfall(need, set).length === 0;
}

function shortfall(need: Need, sources: Source[]): { sku: string; quantity: number }[] {
  const total = new Map<string, number>();
  for (const s of sources) for (const l of fillable(s, need)) total.set(l.sku, (total.get(l.sku) ?? 0) + l.quantity);
  return toLines(subtract(need, [...total].map(([sku, quantity]) => ({ sku, quantity }))));
}

function noSingleSource(need: Need, sources: Source[]): string {
  const skus = [...need].filter(([sku, wanted]) => !sources.some((s) => (s.available[sku] ?? 0) >= wanted)).map(([sku]) => sku);
  return skus.length > 0 ? `no single location can fill ${skus.join(', ')}` : 'no single location holds every line';
}

function subtract(need: Need, lines: { sku: string; quantity: number }[]): Need {
  const rest = new Map(need);
  for (const l of lines) rest.set(l.sku, (rest.get(l.sku) ?? 0) - l.quantity);
  return new Map([...rest].filter(([, q]) => q > 0));
}

const toLines = (need: Need) => [...need].map(([sku, quantity]) => ({ sku, quantity }));
const sum = (need: Need) => [...need.values()].reduce((n, q) => n + q, 0);
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byId = (a: { locationId: string }, b: { locationId: string }) => compareText(a.locationId, b.locationId);
const byCost = (a: Source, b: Source) => a.cost - b.cost || byId(a, b);
const idsOf = (c: Choice) => c.used.map((s) => s.locationId).sort().join(',');
const describeLines = (lines: { sku: string; quantity: number }[], verb: string) => lines.map((l) => `${l.sku} ${verb} ${l.quantity}`).join(', ');
const joinIds = (ids: string[]) => (ids.length <= 1 ? ids.join('') : `${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}`);
const money = (minor: number) => String(Math.round(minor)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
