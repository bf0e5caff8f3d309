import { UnrecoverableError, type Job } from 'bullmq';
import { CarrierRefused, type Carrier, type PackageSpec, type RateRequest } from '../carriers/carrier.port.js';
import { chooseRate, shopRates, type RateShoppingRules } from '../carriers/rate-shopping.js';
import type { CommandMetadata } from '../write-side/decider.js';
import type { Delivery } from '../write-side/orders/order.events.js';
import type { CarrierDecision, FulfilmentKind, LabelFailureCode, ShipmentLabel } from '../write-side/fulfilments/fulfilment.events.js';
import { carriersToSkip, type LabelPurchase, type LabelVoiding } from '../write-side/fulfilments/fulfilment.state.js';
import type { WriteSide } from '../write-side/commands.js';
import { DEFAULT_JOB_OPTIONS } from './queues.js';

// Buying a packed fulfilment's label, and voiding a cancelled one's. The carrier is chosen once
// and the choice recorded on the fulfilment before anything is bought: a retry (a lost answer, a
// worker killed mid-call) buys from the recorded carrier with the recorded request under the same
// key and gets the same label back. Shopping again could pick another carrier, whose key space
// knows nothing of the first purchase: a second label. Two runs at once both record a choice; the
// first recorded holds, and both buy by it.
//
// Only a definite refusal lets the choice go: it is recorded (LabelPurchaseRefused) and the label
// is shopped for again without that carrier, as the next purchase, under a key of its own (a
// carrier may answer a key it refused with the same refusal). A lost answer or a timeout never
// does. When no carrier is left, or the job runs out of attempts, the failure is recorded
// (LabelPurchaseFailed) and the job fails for good; an operator's retry, or packing again, tries
// every carrier anew.

export type { CarrierDecision, ShipmentLabel };

/** What the jobs need of a fulfilment, from the write side. */
export interface LabelFulfilment {
  fulfilmentId: string;
  orderId: string;
  kind: FulfilmentKind;
  /** The fulfilment status (`packed` is the one that needs a label, `cancelled` one whose label may need voiding). */
  status: string;
  delivery: Delivery;
  currency: string;
  packages: PackageSpec[];
  /** The location as it is now: the request's origin when no carrier has been chosen yet. */
  location: RateRequest['from'];
  /** Of a cancelled fulfilment, as it stood when cancelled. */
  carrierDecision?: CarrierDecision;
  label?: ShipmentLabel;
  labelPurchase: LabelPurchase;
  /** A cancelled fulfilment's label at its carrier: voided, or refused. */
  voiding?: LabelVoiding;
}

/** What the label jobs record on a fulfilment, through the write side; each records nothing when what it says already holds. */
export interface LabelRecorders {
  /** Undefined for a fulfilment that does not exist. */
  loadFulfilment(fulfilmentId: string): Promise<LabelFulfilment | undefined>;
  /** Records the decision unless one is recorded already; answers the one that holds. */
  recordCarrierChoice(fulfilmentId: string, decision: CarrierDecision, metadata: CommandMetadata): Promise<CarrierDecision>;
  recordLabel(fulfilmentId: string, label: ShipmentLabel, metadata: CommandMetadata): Promise<void>;
  recordLabelRefusal(fulfilmentId: string, refusal: { attempt: number; carrierId: string; service: string; code: string; reason: string }, metadata: CommandMetadata): Promise<void>;
  recordLabelFailure(fulfilmentId: string, failure: { carrierId: string | null; code: LabelFailureCode; reason: string }, metadata: CommandMetadata): Promise<void>;
  recordLabelCancellation(fulfilmentId: string, label: { carrierId: string; trackingNumber: string }, metadata: CommandMetadata): Promise<void>;
  recordLabelCancellationRefusal(fulfilmentId: string, refusal: { carrierId: string; trackingNumber: string; code: string; reason: string }, metadata: CommandMetadata): Promise<void>;
}

export interface LabelDeps extends LabelRecorders {
  carriers: readonly Carrier[];
  rules: Omit<RateShoppingRules, 'speed'>;
  quoteTimeoutMs: number;
  now(): Date;
}

export type LabelJob = Job<{ fulfilmentId: string; eventId: string }>;

/** A purchase's idempotency key: the fulfilment's for its first, with the purchase's number for each after a refusal. */
export const labelKey = (fulfilmentId: string, attempt: number) => (attempt === 1 ? `label:${fulfilmentId}` : `label:${fulfilmentId}:${attempt}`);

/** Label jobs are named after the event that started them. */
export function labelJob(job: LabelJob, deps: LabelDeps): Promise<void> {
  switch (job.name) {
    case 'FulfilmentPacked': return buyLabel(job, deps);
    case 'FulfilmentCancelled': return cancelLabel(job, deps);
    default: throw new UnrecoverableError(`no label job for ${job.name}`);
  }
}

const metadataOf = (job: LabelJob, deps: LabelDeps, orderId: string) => (): CommandMetadata => ({
  now: deps.now().toISOString(), correlationId: orderId, causationId: job.data.eventId, actor: { kind: 'job', id: `labels/${job.id}` },
});

/** Whether this run is the job's last attempt: a transient failure now fails it for good. */
const lastAttempt = (job: LabelJob) => job.attemptsMade + 1 >= (job.opts?.attempts ?? DEFAULT_JOB_OPTIONS.attempts ?? 1);

const needsLabel = (f: LabelFulfilment) => !f.label && f.status === 'packed' && f.delivery.method === 'ship';

export async function buyLabel(job: LabelJob, deps: LabelDeps): Promise<void> {
  const { fulfilmentId } = job.data;
  let f = await deps.loadFulfilment(fulfilmentId);
  if (!f) throw new UnrecoverableError(`fulfilment ${fulfilmentId} does not exist`);
  const metadata = metadataOf(job, deps, f.orderId);
  try {
    // A refusal drops its carrier's choice, and the next purchase goes to another: at most one per carrier.
    for (let refusals = 0; f && needsLabel(f); refusals++) {
      if (refusals > deps.carriers.length) throw new Error(`fulfilment ${fulfilmentId}: still no label after ${refusals} refusals`);
      if (await purchase(f, deps, metadata) === 'labelled') return;
      f = await deps.loadFulfilment(fulfilmentId);
    }
  } catch (err) {
    if (err instanceof UnrecoverableError || !lastAttempt(job)) throw err;    // transient: the same purchase again, with backoff
    const now = await deps.loadFulfilment(fulfilmentId);
    if (now && needsLabel(now)) {
      // A carrier chosen may have made the label (its answer lost): its choice holds for the operator's retry.
      await deps.recordLabelFailure(fulfilmentId, { carrierId: now.carrierDecision?.quote.carrierId ?? null, code: 'retries_exhausted', reason: (err as Error).message }, metadata());
    }
    throw err;
  }
}

/** One purchase: from the carrier chosen (chosen now if none is); `refused` when that carrier said no and its choice was let go. */
async function purchase(f: LabelFulfilment, deps: LabelDeps, metadata: () => CommandMetadata): Promise<'labelled' | 'refused'> {
  const decision = f.carrierDecision ?? await choose(f, deps, metadata());
  const { carrierId, service } = decision.quote;
  const carrier = deps.carriers.find((c) => c.carrierId === carrierId);
  if (!carrier) return fail(f, deps, metadata(), { carrierId, code: 'carrier_not_configured', reason: `carrier ${carrierId}, chosen for fulfilment ${f.fulfilmentId}, is not configured` });
  let label;
  try {
    label = await carrier.buyLabel({ ...labelRequest(f, decision), service, idempotencyKey: labelKey(f.fulfilmentId, decision.attempt) });
  } catch (err) {
    if (!(err instanceof CarrierRefused)) throw err;                   // unavailable or lost: the same purchase again, with backoff
    const reason = `${carrierId} refused the label for fulfilment ${f.fulfilmentId}: ${err.code}: ${err.message}`;
    // The carrier holds another request under this key: a label may exist there, so its choice holds.
    if (err.code === 'idempotency_key_reused') return fail(f, deps, metadata(), { carrierId, code: 'key_conflict', reason });
    await deps.recordLabelRefusal(f.fulfilmentId, { attempt: decision.attempt, carrierId, service, code: err.code, reason: err.message }, metadata());
    return 'refused';
  }
  await deps.recordLabel(f.fulfilmentId, {
    shipmentId: f.fulfilmentId, carrierId: label.carrierId, service: label.service, trackingNumber: label.trackingNumber, labelUrl: label.labelUrl,
    cost: label.cost, currency: label.currency, estimatedDelivery: label.estimatedDelivery, choice: decision.choice,
  }, metadata());
  return 'labelled';
}

/** Rate-shops among the carriers that have not refused this fulfilment, and records the choice as the next purchase. */
async function choose(f: LabelFulfilment, deps: LabelDeps, metadata: CommandMetadata): Promise<CarrierDecision> {
  const request = labelRequest(f, { from: f.location, readyAt: deps.now().toISOString() });
  const speed = f.delivery.method === 'ship' ? f.delivery.speed : 'standard';
  const skip = carriersToSkip(f.labelPurchase);
  const carriers = deps.carriers.filter((c) => !skip.includes(c.carrierId));
  const { quotes, unavailable } = await shopRates(carriers, request, deps.quoteTimeoutMs);
  const { chosen, choice } = chooseRate(quotes, unavailable, { ...deps.rules, speed });
  const refused = skip.map((id) => `${id} refused the label`).join('; ');
  const why = carriers.length === 0 ? `every carrier refused the label: ${skip.join(', ')}` : refused ? `${choice.why}; ${refused}` : choice.why;
  if (!chosen) {
    // Carriers that did not answer may answer next time; when every one answered, nothing will change.
    if (unavailable.length > 0) throw new Error(`no label for fulfilment ${f.fulfilmentId} yet: ${why}`);
    return fail(f, deps, metadata, { carrierId: null, code: 'no_carrier', reason: `no carrier can take fulfilment ${f.fulfilmentId}: ${why}` });
  }
  return deps.recordCarrierChoice(f.fulfilmentId, { attempt: f.labelPurchase.attempts + 1, quote: chosen, choice: { ...choice, why }, from: request.from, readyAt: request.readyAt }, metadata);
}

/** Records why no label can be bought, and fails the job for good: an operator takes it from there. */
async function fail(f: LabelFulfilment, deps: LabelDeps, metadata: CommandMetadata, failure: { carrierId: string | null; code: LabelFailureCode; reason: string }): Promise<never> {
  await deps.recordLabelFailure(f.fulfilmentId, failure, metadata);
  throw new UnrecoverableError(`${failure.code}: ${failure.reason}`);
}

function labelRequest(f: LabelFulfilment, d: Pick<CarrierDecision, 'from' | 'readyAt'>): RateRequest {
  if (f.delivery.method !== 'ship') throw new UnrecoverableError(`fulfilment ${f.fulfilmentId} is not shipped`);
  return { from: d.from, to: f.delivery.address, packages: f.packages, currency: f.currency, reference: f.fulfilmentId, readyAt: d.readyAt };
}

/**
 * Voids the label of a fulfilment cancelled before its handover. One cancelled while its label was
 * being bought may have a label the carrier made and the fulfilment never heard of: the purchase
 * is asked for again under its key (the carrier answers the label it made, or makes it now), and
 * that label voided. Voiding again changes nothing, so a retry is safe.
 */
export async function cancelLabel(job: LabelJob, deps: LabelDeps): Promise<void> {
  const { fulfilmentId } = job.data;
  const f = await deps.loadFulfilment(fulfilmentId);
  if (!f) throw new UnrecoverableError(`fulfilment ${fulfilmentId} does not exist`);
  if (f.status !== 'cancelled' || f.delivery.method !== 'ship' || f.voiding?.outcome === 'cancelled') return;
  const metadata = metadataOf(job, deps, f.orderId);
  const label = f.label ? { carrierId: f.label.carrierId, trackingNumber: f.label.trackingNumber } : await madeMeanwhile(f, deps);
  if (!label) return;
  const carrier = deps.carriers.find((c) => c.carrierId === label.carrierId);
  if (!carrier) throw new UnrecoverableError(`carrier ${label.carrierId} of label ${label.trackingNumber} (fulfilment ${fulfilmentId}) is not configured`);
  try {
    await carrier.cancelLabel(label.trackingNumber);
  } catch (err) {
    if (!(err instanceof CarrierRefused)) throw err;                   // unavailable: again, with backoff
    await deps.recordLabelCancellationRefusal(fulfilmentId, { ...label, code: err.code, reason: err.message }, metadata());
    throw new UnrecoverableError(`${label.carrierId} would not void label ${label.trackingNumber} of cancelled fulfilment ${fulfilmentId}: ${err.code}: ${err.message}`);
  }
  await deps.recordLabelCancellation(fulfilmentId, label, metadata());
}

/** The label a purchase under way at the cancellation made, if it made one; none when nothing was being bought or the carrier refused it. */
async function madeMeanwhile(f: LabelFulfilment, deps: LabelDeps): Promise<{ carrierId: string; trackingNumber: string } | undefined> {
  const decision = f.carrierDecision;
  if (!decision) return undefined;
  const carrier = deps.carriers.find((c) => c.carrierId === decision.quote.carrierId);
  if (!carrier) throw new UnrecoverableError(`carrier ${decision.quote.carrierId}, chosen for fulfilment ${f.fulfilmentId}, is not configured`);
  try {
    const label = await carrier.buyLabel({ ...labelRequest(f, decision), service: decision.quote.service, idempotencyKey: labelKey(f.fulfilmentId, decision.attempt) });
    return { carrierId: label.carrierId, trackingNumber: label.trackingNumber };
  } catch (err) {
    if (!(err instanceof CarrierRefused)) throw err;
    if (err.code === 'idempotency_key_reused') throw new UnrecoverableError(`${carrier.carrierId} holds another request under ${labelKey(f.fulfilmentId, decision.attempt)}: ${err.message}`);
    return undefined;                                                   // refused: no label under that key
  }
}

/** The label jobs' view of a fulfilment and what they record, through the write side. */
export function labelRecordersFrom(write: WriteSide): LabelRecorders {
  return {
    async loadFulfilment(fulfilmentId) {
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
        labelPurchase: 'labelPurchase' in base ? base.labelPurchase : { attempts: 0, refusedBy: [] },
        ...('carrierDecision' in base && base.carrierDecision ? { carrierDecision: base.carrierDecision } : {}),
        ...('label' in base ? { label: base.label } : {}),
        ...(f.status === 'cancelled' && f.voiding ? { voiding: f.voiding } : {}),
      };
    },
    recordCarrierChoice: write.recordCarrierChoice,
    async recordLabel(id, label, metadata) { await write.recordLabel(id, label, metadata); },
    async recordLabelRefusal(id, refusal, metadata) { await write.recordLabelRefusal(id, refusal, metadata); },
    async recordLabelFailure(id, failure, metadata) { await write.recordLabelFailure(id, failure, metadata); },
    async recordLabelCancellation(id, label, metadata) { await write.recordLabelCancellation(id, label, metadata); },
    async recordLabelCancellationRefusal(id, refusal, metadata) { await write.recordLabelCancellationRefusal(id, refusal, metadata); },
  };
}
