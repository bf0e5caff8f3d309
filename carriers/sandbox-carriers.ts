import type { Knex } from 'knex';
import type { CarrierFault, CarrierSettings, SandboxFault } from '../platform/config.js';
import {
  CarrierRefused, CarrierUnavailable, type Carrier, type CarrierService, type Label, type LabelRequest, type Quote, type RateRequest, type TrackingUpdate,
} from './carrier.port.js';
import { priceQuotes, SANDBOX_CARRIERS, type CarrierProfile } from './sandbox-rates.js';
import { trackingSoFar, type LabelRow } from './sandbox-tracking.js';

export interface SandboxCarrierOptions {
  /** Network latency each way before the profile's factor (jittered); default 40 ms. */
  latencyMs?: number;
  faults?: SandboxFault[];
  /** How late a `slow` carrier answers a quote; default 5 s, past the quote timeout. */
  slowMs?: number;
  /** Carrier seconds per real second for tracking; default 1. */
  clock?: number;
  now?: () => Date;
}

/**
 * A sandbox carrier that behaves like a real one: it prices by its rate tables (sandbox-rates.ts),
 * answers after network latency, keeps its own records (labels per reference, the answer to each
 * purchase per idempotency key) in its tables (migration 010-sandbox-carriers; `knex` is on a
 * migrated schema), moves its labels on by its own clock, and fails as its faults say. A label
 * purchase is one call of `sandbox_carrier_buy_label`, serialised per idempotency key.
 */
export class SandboxCarrier implements Carrier {
  readonly carrierId: string;
  readonly name: string;
  readonly services: readonly CarrierService[];

  constructor(private readonly knex: Knex, readonly profile: CarrierProfile, private readonly options: SandboxCarrierOptions = {}) {
    this.carrierId = profile.carrierId;
    this.name = profile.name;
    this.services = profile.services.map(({ code, name, transitDays }) => ({ code, name, transitDays }));
  }

  async quote(r: RateRequest, options: { signal?: AbortSignal } = {}): Promise<Quote[]> {
    const faults = this.faultsFor(r.reference);
    await this.travel(options.signal);
    this.failIfDown(faults);
    if (faults.has('slow')) await sleep(this.options.slowMs ?? 5000, options.signal);
    const quotes = priceQuotes(this.profile, r);
    await this.travel(options.signal);
    return quotes;
  }

  async buyLabel(r: LabelRequest): Promise<Label> {
    const { idempotencyKey, ...request } = r;
    const faults = this.faultsFor(r.reference);
    await this.travel();
    this.failIfDown(faults);
    const quote = priceQuotes(this.profile, request).find((q) => q.service === r.service);
    if (!quote) throw new CarrierRefused(this.carrierId, 'service_not_offered', `${this.name} does not offer ${r.service} for these packages`);
    const label = {
      trackingPrefix: this.profile.trackingPrefix, trackingDigits: this.profile.trackingDigits, labelUrlBase: `https://labels.${this.carrierId}.sandbox.example/`,
      service: quote.service, cost: quote.amount, currency: quote.currency, estimatedDelivery: quote.estimatedDelivery, createdAt: this.now().toISOString(),
    };
    if (faults.has('refuse_once')) await this.refuseFirstPurchase(r.reference, idempotencyKey, request);
    const flags = { failOnce: faults.has('fail_once'), loseOnce: faults.has('lose_once'), deliveryException: faults.has('delivery_exception') };
    const o = await this.db(async () => (await this.knex.raw('SELECT sandbox_carrier_buy_label(?, ?, ?::jsonb, ?::jsonb, ?::jsonb) AS o',
      [this.carrierId, idempotencyKey, JSON.stringify(request), JSON.stringify(label), JSON.stringify(flags)])).rows[0].o as PurchaseOutcome);
    await this.travel();
    if (o.unavailable) throw new CarrierUnavailable(this.carrierId, o.unavailable);
    if (o.lost) throw new CarrierUnavailable(this.carrierId, 'sandbox: the label was made but the answer was lost on the way back (lose_once)');
    if (o.refused) throw new CarrierRefused(this.carrierId, o.refused.code, o.refused.message);
    return o.result!;
  }

  async track(trackingNumber: string): Promise<TrackingUpdate[]> {
    await this.travel();
    this.failIfDown(this.faultsFor());
    const label = await this.label(trackingNumber);
    await this.travel();
    return trackingSoFar(label, this.now(), this.options.clock ?? 1);
  }

  async cancelLabel(trackingNumber: string): Promise<void> {
    await this.travel();
    this.failIfDown(this.faultsFor());
    const label = await this.label(trackingNumber);
    if (label.cancelled_at) return;
    if (trackingSoFar(label, this.now(), this.options.clock ?? 1).some((u) => u.status !== 'label_created')) {
      throw new CarrierRefused(this.carrierId, 'already_handed_over', `Label ${trackingNumber} has been handed over and can no longer be voided`);
    }
    await this.db(() => this.knex('sandbox_carrier_labels').where({ tracking_number: trackingNumber }).whereNull('cancelled_at').update({ cancelled_at: this.now() }));
    await this.travel();
  }

  /**
   * The first purchase for a shipment is refused (its address fails this carrier's check), and
   * the refusal kept as the answer to that key, as a carrier keeps the answer to every key.
   */
  private async refuseFirstPurchase(reference: string, idempotencyKey: string, request: Omit<LabelRequest, 'idempotencyKey'>): Promise<void> {
    await this.db(async () => {
      const seen = await this.knex('sandbox_carrier_operations').where({ carrier_id: this.carrierId }).whereRaw("request->>'reference' = ?", [reference]).first('idempotency_key');
      if (seen) return;
      const refused = { code: 'address_not_serviceable', message: `sandbox: ${this.name} does not deliver to this address (refuse_once)` };
      await this.knex('sandbox_carrier_operations').insert({ carrier_id: this.carrierId, idempotency_key: idempotencyKey, request: JSON.stringify(request), outcome: { refused } })
        .onConflict(['carrier_id', 'idempotency_key']).ignore();
    });
  }

  private async label(trackingNumber: string): Promise<LabelRow> {
    const row = await this.db(() => this.knex('sandbox_carrier_labels')
      .select('*', this.knex.raw('estimated_delivery::text AS estimated_delivery'))
      .where({ tracking_number: trackingNumber, carrier_id: this.carrierId }).first());
    if (!row) throw new CarrierRefused(this.carrierId, 'unknown_tracking_number', `${this.name} has no label ${trackingNumber}`);
    return row as LabelRow;
  }

  /** The carrier's own systems failing are, to its callers, the carrier not answering. */
  private async db<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new CarrierUnavailable(this.carrierId, `sandbox: ${(err as Error).message}`);
    }
  }

  private faultsFor(reference?: string): Set<CarrierFault> {
    return new Set((this.options.faults ?? []).filter((f) => f.reference === undefined || f.reference === reference).map((f) => f.fault));
  }

  private failIfDown(faults: Set<CarrierFault>): void {
    if (faults.has('down')) throw new CarrierUnavailable(this.carrierId, `sandbox: ${this.name} is down`);
  }

  private travel(signal?: AbortSignal): Promise<void> {
    return sleep((this.options.latencyMs ?? 40) * this.profile.latencyFactor * (0.25 + Math.random() / 2), signal);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

/** The enabled sandbox carriers with their configured latency, faults and clock. */
export function createSandboxCarriers(knex: Knex, settings: Pick<CarrierSettings, 'enabled' | 'sandbox'>, options: Pick<SandboxCarrierOptions, 'now' | 'slowMs'> = {}): SandboxCarrier[] {
  const { latencyMs, faults, clock } = settings.sandbox;
  return settings.enabled.map((id) => new SandboxCarrier(knex, SANDBOX_CARRIERS[id], { latencyMs, faults: faults[id] ?? [], clock, ...options }));
}

// The sandbox's own records, read from its tables: what tests and benchmarks count. A real
// carrier's would be read from its portal, so they are not on the port.

export interface SandboxLabel {
  carrierId: string; trackingNumber: string; reference: string; idempotencyKey: string; service: string;
  cost: number; currency: string; estimatedDelivery: string; createdAt: string; cancelled: boolean;
}

/** Every label the sandbox carriers have made for one reference (a fulfilment), oldest first, whichever carrier made it. */
export async function sandboxLabels(knex: Knex, reference: string): Promise<SandboxLabel[]> {
  const rows = await knex('sandbox_carrier_labels').select('*', knex.raw('estimated_delivery::text AS estimated_delivery'))
    .where({ reference }).orderBy('created_at').orderBy('tracking_number');
  return rows.map((r) => ({
    carrierId: r.carrier_id, trackingNumber: r.tracking_number, reference: r.reference, idempotencyKey: r.idempotency_key, service: r.service,
    cost: Number(r.cost), currency: r.currency, estimatedDelivery: r.estimated_delivery, createdAt: r.created_at.toISOString(), cancelled: r.cancelled_at !== null,
  }));
}

/** How many labels the sandbox carriers hold per reference, for every reference they have labelled. */
export async function sandboxLabelCounts(knex: Knex): Promise<Map<string, number>> {
  const rows: { reference: string; n: string }[] = await knex('sandbox_carrier_labels').select('reference').count({ n: '*' }).groupBy('reference');
  return new Map(rows.map((r) => [r.reference, Number(r.n)]));
}

/** How many purchases under this idempotency key have reached the carrier (0 for none). */
export async function sandboxLabelAttempts(knex: Knex, carrierId: string, idempotencyKey: string): Promise<number> {
  const row = await knex('sandbox_carrier_attempts').where({ carrier_id: carrierId, idempotency_key: idempotencyKey }).first('attempts');
  return row ? Number(row.attempts) : 0;
}

interface PurchaseOutcome { result?: Label; refused?: { code: string; message: string }; unavailable?: string; lost?: boolean }

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => { signal?.removeEventListener('abort', abort); resolve(); };
    const timer = setTimeout(done, ms);
    const abort = () => { clearTimeout(timer); reject(signal!.reason); };
    signal?.addEventListener('abort', abort, { once: true });
  });
}
