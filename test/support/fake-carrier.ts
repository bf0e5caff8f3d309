import {
  CarrierRefused, CarrierUnavailable, type Carrier, type Label, type LabelRequest, type Quote, type RateRequest,
} from '../../carriers/carrier.port.js';

export type BuyStep = 'fail' | 'lose' | 'refuse';

/**
 * A carrier that quotes one service and, like a real one, answers an idempotency key it has seen
 * with its first answer: the label it made (refusing the key for a different request), or the
 * refusal it gave. Steps script the next calls.
 */
export class FakeCarrier implements Carrier {
  readonly name: string;
  readonly services = [];
  readonly labels = new Map<string, { request: string; label: Label }>();
  readonly purchases: LabelRequest[] = [];
  private readonly refused = new Set<string>();
  quotes: (number | Error)[] = [];
  buys: BuyStep[] = [];
  readonly voided: string[] = [];
  voids: ('fail' | 'refuse')[] = [];

  constructor(readonly carrierId: string, private readonly amount: number, private readonly transitDays: number) { this.name = carrierId; }

  async quote(r: RateRequest): Promise<Quote[]> {
    const step = this.quotes.shift() ?? this.amount;
    if (step instanceof Error) throw step;
    return [{ carrierId: this.carrierId, service: 'std', amount: step, currency: r.currency, transitDays: this.transitDays, estimatedDelivery: `2026-12-0${this.transitDays}` }];
  }

  async buyLabel(r: LabelRequest): Promise<Label> {
    this.purchases.push(r);
    const step = this.buys.shift();
    if (step === 'fail') throw new CarrierUnavailable(this.carrierId, 'try again');
    const { idempotencyKey, ...rest } = r;
    if (step === 'refuse') this.refused.add(idempotencyKey);
    if (this.refused.has(idempotencyKey)) throw new CarrierRefused(this.carrierId, 'service_not_offered', 'no');
    const request = JSON.stringify(rest);
    const seen = this.labels.get(idempotencyKey);
    if (seen && seen.request !== request) throw new CarrierRefused(this.carrierId, 'idempotency_key_reused', 'another request');
    const label = seen?.label ?? {
      carrierId: this.carrierId, service: r.service, trackingNumber: `${this.carrierId}-${this.labels.size + 1}`, labelUrl: `https://labels/${this.carrierId}`,
      cost: this.amount, currency: r.currency, estimatedDelivery: '2026-12-01', createdAt: '2026-11-26T11:00:00.000Z',
    };
    this.labels.set(idempotencyKey, { request, label });
    if (step === 'lose') throw new CarrierUnavailable(this.carrierId, 'the answer was lost');
    return label;
  }

  async track(): Promise<never> { throw new Error('not here'); }

  async cancelLabel(trackingNumber: string): Promise<void> {
    const step = this.voids.shift();
    if (step === 'fail') throw new CarrierUnavailable(this.carrierId, 'try again');
    if (step === 'refuse') throw new CarrierRefused(this.carrierId, 'already_handed_over', 'the parcel is on its way');
    if (![...this.labels.values()].some((l) => l.label.trackingNumber === trackingNumber)) throw new CarrierRefused(this.carrierId, 'unknown_tracking_number', trackingNumber);
    if (!this.voided.includes(trackingNumber)) this.voided.push(trackingNumber);
  }
}
