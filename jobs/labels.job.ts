import { UnrecoverableError, type Job } from 'bullmq';
import { CarrierRefused, type Carrier, type PackageSpec, type RateRequest } from '../carriers/carrier.port.js';
import { chooseRate, shopRates, type RateShoppingRules, type Speed } from '../carriers/rate-shopping.js';
import type { CommandMetadata } from '../write-side/decider.js';
import type { Delivery } from '../write-side/orders/order.events.js';
import type { CarrierDecision, ShipmentLabel } from '../write-side/fulfilments/fulfilment.events.js';
import type { WriteSide } from '../write-side/commands.js';

// Buying a packed fulfilment's label. The carrier is chosen once and the choice recorded on the
// fulfilment before anything is bought: a retry (a lost answer, a worker killed mid-call) buys
// from the recorded carrier with the recorded request under the same key, `label:<fulfilmentId>`,
// and gets the same label back. Shopping again could pick another carrier, whose key space knows
// nothing of the first purchase: a second label. Two runs at once both record a choice; the
// first recorded holds, and both buy by it.

export type { CarrierDecision, ShipmentLabel };

/** What the job needs of a fulfilment, from the write side. */
export interface LabelFulfilment {
  fulfilmentId: string;
  orderId: string;
  kind: 'ship' | 'pickup';
  /** The fulfilment status (`packed` is the one that needs a label). */
  status: string;
  delivery: Delivery;
  currency: string;
  packages: PackageSpec[];
  /** The location as it is now: the request's origin when no carrier has been chosen yet. */
  location: RateRequest['from'];
  carrierDecision?: CarrierDecision;
  label?: ShipmentLabel;
}

export interface LabelDeps {
  carriers: readonly Carrier[];
  /** Undefined for a fulfilment that does not exist. */
  loadFulfilment(fulfilmentId: string): Promise<LabelFulfilment | undefined>;
  /** Records the decision unless one is recorded already; answers the one that holds. */
  recordCarrierChoice(fulfilmentId: string, decision: CarrierDecision, metadata: CommandMetadata): Promise<CarrierDecision>;
  /** Records the label (the same label again records nothing). */
  recordLabel(fulfilmentId: string, label: ShipmentLabel, metadata: CommandMetadata): Promise<void>;
  rules: Omit<RateShoppingRules, 'speed'>;
  quoteTimeoutMs: number;
  now(): Date;
}

export type LabelJob = Job<{ fulfilmentId: string; eventId: string }>;

const labelKey = (fulfilmentId: string) => `label:${fulfilmentId}`;

export async function buyLabel(job: LabelJob, deps: LabelDeps): Promise<void> {
  const { fulfilmentId } = job.data;
  const f = await deps.loadFulfilment(fulfilmentId);
  if (!f) throw new UnrecoverableError(`fulfilment ${fulfilmentId} does not exist`);
  const { delivery } = f;
  if (f.label || f.status !== 'packed' || delivery.method !== 'ship') return;
  const metadata = (): CommandMetadata => ({
    now: deps.now().toISOString(), correlationId: f.orderId, causationId: job.data.eventId, actor: { kind: 'job', id: `labels/${job.id}` },
  });
  const request = (d: Pick<CarrierDecision, 'from' | 'readyAt'>): RateRequest => ({
    from: d.from, to: delivery.address, packages: f.packages, currency: f.currency, reference: fulfilmentId, readyAt: d.readyAt,
  });
  const decision = f.carrierDecision ?? await choose(f, delivery.speed, request({ from: f.location, readyAt: deps.now().toISOString() }), deps, metadata());
  const carrier = deps.carriers.find((c) => c.carrierId === decision.quote.carrierId);
  if (!carrier) throw new UnrecoverableError(`carrier ${decision.quote.carrierId}, chosen for fulfilment ${fulfilmentId}, is not configured`);
  let label;
  try {
    label = await carrier.buyLabel({ ...request(decision), service: decision.quote.service, idempotencyKey: labelKey(fulfilmentId) });
  } catch (err) {
    if (err instanceof CarrierRefused) throw new UnrecoverableError(`${err.carrierId} refused the label for fulfilment ${fulfilmentId}: ${err.code}: ${err.message}`);
    throw err;                                                       // unavailable or lost: the same purchase again, with backoff
  }
  await deps.recordLabel(fulfilmentId, {
    shipmentId: fulfilmentId, carrierId: label.carrierId, service: label.service, trackingNumber: label.trackingNumber, labelUrl: label.labelUrl,
    cost: label.cost, currency: label.currency, estimatedDelivery: label.estimatedDelivery, choice: decision.choice,
  }, metadata());
}

async function choose(f: LabelFulfilment, speed: Speed, request: RateRequest, deps: LabelDeps, metadata: CommandMetadata): Promise<CarrierDecision> {
  const { quotes, unavailable } = await shopRates(deps.carriers, request, deps.quoteTimeoutMs);
  const { chosen, choice } = chooseRate(quotes, unavailable, { ...deps.rules, speed });
  if (!chosen) {
    // Carriers that did not answer may answer next time; when every one answered, nothing will change.
    if (unavailable.length > 0) throw new Error(`no label for fulfilment ${f.fulfilmentId} yet: ${choice.why}`);
    throw new UnrecoverableError(`no carrier can take fulfilment ${f.fulfilmentId}: ${choice.why}`);
  }
  return deps.recordCarrierChoice(f.fulfilmentId, { quote: chosen, choice, from: request.from, readyAt: request.readyAt }, metadata);
}

/** The label job's view of a fulfilment, from the write side: the fulfilment, its order's currency and its location as it is now. */
export function labelFulfilmentFrom(write: WriteSide): LabelDeps['loadFulfilment'] {
  return async (fulfilmentId) => {
    const f = await write.loadFulfilment(fulfilmentId);
    if (f.status === 'none') return undefined;
    const order = await write.loadOrder(f.orderId);
    const location = await write.location(f.locationId);
    const base = f.status === 'cancelled' ? f.was : f;
    return {
      fulfilmentId, orderId: f.orderId, kind: f.kind, status: f.status, delivery: f.delivery,
      currency: order.status === 'none' ? 'EUR' : order.order.currency,
      packages: 'packages' in base ? base.packages : [],
      location: { locationId: location.locationId, geo: location.geo, cutoffHour: location.cutoffHour },
      ...('carrierDecision' in base && base.carrierDecision ? { carrierDecision: base.carrierDecision } : {}),
      ...('label' in base ? { label: base.label } : {}),
    };
  };
}
