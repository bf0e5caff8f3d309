import type { CarrierPreferences } from '../platform/config.js';
import type { Delivery } from '../write-side/orders/order.events.js';
import { CarrierUnavailable, type Carrier, type Quote, type RateRequest } from './carrier.port.js';

export type Speed = Extract<Delivery, { method: 'ship' }>['speed'];

/** What was chosen from, and why the winner won: recorded with the label. */
export interface CarrierChoice { why: string; quotes: Quote[]; unavailable: string[] }
export interface RateChoice { chosen: Quote | null; choice: CarrierChoice }

export interface RateShoppingRules { speed: Speed; standardMaxDays: number; preferences: CarrierPreferences }

type Order = (a: Quote, b: Quote) => number;
const byAmount: Order = (a, b) => a.amount - b.amount;
const byDelivery: Order = (a, b) => (a.estimatedDelivery < b.estimatedDelivery ? -1 : a.estimatedDelivery > b.estimatedDelivery ? 1 : a.transitDays - b.transitDays);
const byId: Order = (a, b) => (a.carrierId < b.carrierId ? -1 : a.carrierId > b.carrierId ? 1 : a.service < b.service ? -1 : a.service > b.service ? 1 : 0);
const then = (...orders: Order[]): Order => (a, b) => orders.reduce((r, o) => r || o(a, b), 0);

/**
 * The rate-shopping rule. `cheapest`: the lowest amount. `standard`: the lowest amount among
 * quotes with at most standardMaxDays in transit, else the fastest. `express`: the fastest
 * (earliest delivery), then the cheapest. Excluded carriers are never chosen; a preferred carrier
 * (the first listed that qualifies) wins over the best when it costs at most marginPercent more,
 * and, where speed decides, delivers as early. Remaining ties go to the earlier delivery, then by id.
 */
export function chooseRate(quotes: Quote[], unavailable: string[], rules: RateShoppingRules): RateChoice {
  const { preferred, excluded, marginPercent } = rules.preferences;
  const record = (why: string) => ({ why, quotes, unavailable });
  const usable = quotes.filter((q) => !excluded.includes(q.carrierId));
  const notes = [
    ...unavailable.map((id) => `${id} did not answer in time`),
    ...[...new Set(quotes.filter((q) => excluded.includes(q.carrierId)).map((q) => q.carrierId))].map((id) => `${id} is excluded`),
  ].join('; ');
  const withNotes = (why: string) => (notes ? `${why}; ${notes}` : why);
  if (usable.length === 0) {
    const none = quotes.length > 0 ? 'every quote is from an excluded carrier' : unavailable.length > 0 ? 'no carrier answered' : 'no carrier offers a service for these packages';
    return { chosen: null, choice: record(withNotes(`nothing to choose from: ${none}`)) };
  }
  const within = usable.filter((q) => q.transitDays <= rules.standardMaxDays);
  const fastest = rules.speed === 'express' || (rules.speed === 'standard' && within.length === 0);
  const pool = rules.speed === 'standard' && within.length > 0 ? within : usable;
  const ranked = [...pool].sort(fastest ? then(byDelivery, byAmount, byId) : then(byAmount, byDelivery, byId));
  const best = ranked[0];
  const qualifies = (q: Quote) => q.amount <= best.amount * (1 + marginPercent / 100) && (!fastest || q.estimatedDelivery <= best.estimatedDelivery);
  const favourite = preferred.map((id) => ranked.find((q) => q.carrierId === id && qualifies(q))).find((q) => q !== undefined);
  const chosen = favourite ?? best;

  const rule = rules.speed === 'cheapest' ? 'the cheapest'
    : rules.speed === 'express' ? 'the fastest'
      : fastest ? `no quote within ${days(rules.standardMaxDays)} in transit, so the fastest` : `the cheapest within ${days(rules.standardMaxDays)} in transit`;
  const why = chosen === best
    ? `${rules.speed}: ${rule}, ${describe(best)}`
    : `${rules.speed}: preferred carrier ${describe(chosen)}, ${chosen.amount === best.amount ? 'as cheap as' : `within ${marginPercent}% of`} ${rule}, ${describe(best)}`;
  return { chosen, choice: record(withNotes(why)) };
}

function describe(q: Quote): string {
  return `${q.carrierId} ${q.service} at ${(q.amount / 100).toFixed(2)} ${q.currency}, delivered by ${q.estimatedDelivery} (${days(q.transitDays)} in transit)`;
}

const days = (n: number) => `${n} ${n === 1 ? 'day' : 'days'}`;

export interface ShopResult { quotes: Quote[]; unavailable: string[] }

/**
 * Asks every carrier at once. A carrier that fails, or has not answered within timeoutMs (its
 * call is then aborted), is listed as unavailable; the quotes of the others come cheapest first.
 */
export async function shopRates(carriers: readonly Carrier[], request: RateRequest, timeoutMs: number): Promise<ShopResult> {
  const answers = await Promise.all(carriers.map(async (carrier) => {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new CarrierUnavailable(carrier.carrierId, `${carrier.carrierId} did not answer within ${timeoutMs} ms`);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    try {
      return { carrierId: carrier.carrierId, quotes: await Promise.race([carrier.quote(request, { signal: controller.signal }), late]) };
    } catch {
      return { carrierId: carrier.carrierId, quotes: undefined };
    } finally {
      clearTimeout(timer);
    }
  }));
  return {
    quotes: answers.flatMap((a) => a.quotes ?? []).sort(then(byAmount, byDelivery, byId)),
    unavailable: answers.filter((a) => a.quotes === undefined).map((a) => a.carrierId),
  };
}
