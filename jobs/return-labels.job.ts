import { UnrecoverableError, type Job } from 'bullmq';
import { CarrierRefused, type Carrier, type Label, type LabelRequest, type PackageSpec, type Quote, type RateRequest } from '../carriers/carrier.port.js';
import { chooseRate, shopRates, type CarrierChoice, type RateShoppingRules } from '../carriers/rate-shopping.js';
import { ConflictError } from '../platform/errors.js';
import type { WriteSide } from '../write-side/commands.js';
import type { CommandMetadata } from '../write-side/decider.js';
import { DEFAULT_CUTOFF_HOUR, type LocationDetails } from '../write-side/locations/location.decider.js';
import type { Address } from '../write-side/orders/order.events.js';
import type { ReturnCarrierDecision } from '../write-side/returns/return.events.js';
import type { OpenReturn } from '../write-side/returns/return.state.js';
import { receivingLocation, returnParcels } from '../write-side/returns/return-shipment.js';

// Buying the label a customer sends a return back with, from their address to the receiving
// location (return-shipment.ts), by the outbound label's rules (labels.job.ts): the carrier, the
// location and the request are chosen once and recorded on the return before anything is bought;
// a retry (a lost answer, a worker killed mid-call) buys from the recorded carrier with the
// recorded request under the same key, `return-label:<returnId>`, and gets the same label back.
// A return brought back over a store's counter needs no label, and gets no job; one received
// before its label was recorded needs none either, and a label bought for it is voided.

export interface ReturnLabelDeps {
  write: WriteSide;
  carriers: readonly Carrier[];
  /** The locations as the allocator sees them (a second old is fine: the choice is recorded). */
  locations(): Promise<readonly LocationDetails[]>;
  rules: Omit<RateShoppingRules, 'speed'>;
  quoteTimeoutMs: number;
  now(): Date;
}

export type ReturnLabelJob = Job<{ orderId: string; eventId: string; returnId: string }>;

/** Returns are sent by the standard rule: the cheapest within the standard transit days, else the fastest. */
const RETURN_SPEED = 'standard';

const returnLabelKey = (returnId: string) => `return-label:${returnId}`;

export async function buyReturnLabel(job: ReturnLabelJob, deps: ReturnLabelDeps): Promise<void> {
  const { returnId } = job.data;
  const r = await deps.write.loadReturn(returnId);
  if (r.status === 'none') throw new UnrecoverableError(`return ${returnId} does not exist`);
  if (r.label || r.origin.kind !== 'address') return;
  if (r.receipts.length > 0 && !r.carrierDecision) return;           // received before anything was chosen: no label needed
  const metadata = (): CommandMetadata => ({
    now: deps.now().toISOString(), correlationId: r.orderId, causationId: job.data.eventId, actor: { kind: 'job', id: `return-labels/${job.id}` },
  });
  const packages = await parcelsOf(r, deps.write);
  const request = (d: Pick<ReturnCarrierDecision, 'from' | 'to' | 'readyAt'>): RateRequest => ({
    from: d.from, to: d.to.address, packages, currency: r.currency, reference: returnId, readyAt: d.readyAt,
  });
  const decision = r.carrierDecision ?? await choose(r, r.origin.address, request, deps, metadata());
  const label = await buyChosenLabel(deps.carriers, decision.quote, {
    ...request(decision), service: decision.quote.service, idempotencyKey: returnLabelKey(returnId),
  }, `return ${returnId}`);
  const recorded = r.receipts.length === 0 && await deps.write.recordReturnLabel({
    returnId, locationId: decision.to.locationId,
    label: {
      shipmentId: returnId, carrierId: label.carrierId, service: label.service, trackingNumber: label.trackingNumber, labelUrl: label.labelUrl,
      cost: label.cost, currency: label.currency, estimatedDelivery: label.estimatedDelivery, choice: decision.choice,
    },
  }, metadata()).then(() => true, (err: unknown) => {
    if (err instanceof ConflictError && err.code === 'return.already_received') return false;
    throw err;
  });
  if (!recorded) await voidLabel(deps.carriers, label);
}

/**
 * The return was received (brought to a counter, say) before its label was recorded: the label
 * bought for it, under its key, is voided. A carrier that refuses (the parcel is already on its
 * way) keeps it; one that does not answer is asked again on the retry, which buys under the same
 * key, so gets the same label back, and voids it.
 */
async function voidLabel(carriers: readonly Carrier[], label: Label): Promise<void> {
  try {
    await carriers.find((c) => c.carrierId === label.carrierId)?.cancelLabel(label.trackingNumber);
  } catch (err) {
    if (!(err instanceof CarrierRefused)) throw err;
  }
}

/**
 * Chooses where the parcel goes and with which carrier, and records it (the first choice
 * recorded holds, and is answered). The customer hands the parcel over at their address by the
 * usual cut-off hour; locations have no postal address here, so the carrier is given the
 * location's name and coordinates.
 */
async function choose(r: OpenReturn, address: Address, request: (d: Pick<ReturnCarrierDecision, 'from' | 'to' | 'readyAt'>) => RateRequest,
  deps: ReturnLabelDeps, metadata: CommandMetadata): Promise<ReturnCarrierDecision> {
  if (!address.geo) throw new UnrecoverableError(`return ${r.returnId} comes back from an address without coordinates: no carrier can be asked for it`);
  const location = receivingLocation(await deps.locations(), address.geo);
  if (!location) throw new UnrecoverableError(`no active location that ships can receive return ${r.returnId}`);
  const route = {
    from: { locationId: `customer-${r.customerId}`, geo: address.geo, cutoffHour: DEFAULT_CUTOFF_HOUR },
    to: { locationId: location.locationId, address: { line1: location.name, city: location.name, postalCode: '', country: '', geo: location.geo } },
    readyAt: deps.now().toISOString(),
  };
  const { quote, choice } = await chooseCarrier(deps.carriers, request(route), { ...deps.rules, speed: RETURN_SPEED }, deps.quoteTimeoutMs, `return ${r.returnId}`);
  const decision: ReturnCarrierDecision = { quote, choice, ...route };
  const recorded = await deps.write.recordReturnCarrierChoice({ returnId: r.returnId, decision }, metadata);
  return recorded.return.carrierDecision ?? decision;
}

/** The boxes the returned units came in: the packages of the order's shipped fulfilments. */
async function parcelsOf(r: OpenReturn, write: WriteSide): Promise<PackageSpec[]> {
  const order = await write.loadOrder(r.orderId, { fresh: true });
  if (order.status === 'none') throw new UnrecoverableError(`order ${r.orderId} of return ${r.returnId} does not exist`);
  const shipped: PackageSpec[] = [];
  for (const s of order.progress.shipments) {
    const f = await write.loadFulfilment(s.fulfilmentId);
    if ('packages' in f) shipped.push(...f.packages);
  }
  const { packages, missing } = returnParcels(r.lines, shipped);
  if (missing.length > 0) {
    throw new UnrecoverableError(`return ${r.returnId}: ${missing.map((m) => `${m.quantity} of ${m.sku}`).join(', ')} found in no package order ${r.orderId} shipped`);
  }
  return packages;
}

/**
 * Rate-shops the request and picks by the rules. Nothing to pick while some carrier did not
 * answer: thrown to be retried (it may answer next time); when every one answered: for good.
 */
async function chooseCarrier(carriers: readonly Carrier[], request: RateRequest, rules: RateShoppingRules, quoteTimeoutMs: number, what: string): Promise<{ quote: Quote; choice: CarrierChoice }> {
  const { quotes, unavailable } = await shopRates(carriers, request, quoteTimeoutMs);
  const { chosen, choice } = chooseRate(quotes, unavailable, rules);
  if (!chosen) {
    if (unavailable.length > 0) throw new Error(`no label for ${what} yet: ${choice.why}`);
    throw new UnrecoverableError(`no carrier can take ${what}: ${choice.why}`);
  }
  return { quote: chosen, choice };
}

/**
 * Buys the label from the carrier chosen. A refusal is for good (the return's one key is spent);
 * a carrier unavailable, or an answer lost, is thrown to be retried: the same purchase again.
 */
async function buyChosenLabel(carriers: readonly Carrier[], quote: Pick<Quote, 'carrierId'>, request: LabelRequest, what: string): Promise<Label> {
  const carrier = carriers.find((c) => c.carrierId === quote.carrierId);
  if (!carrier) throw new UnrecoverableError(`carrier ${quote.carrierId}, chosen for ${what}, is not configured`);
  try {
    return await carrier.buyLabel(request);
  } catch (err) {
    if (err instanceof CarrierRefused) throw new UnrecoverableError(`${err.carrierId} refused the label for ${what}: ${err.code}: ${err.message}`);
    throw err;
  }
}
