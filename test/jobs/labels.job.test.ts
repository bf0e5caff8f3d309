import { expect } from 'chai';
import { UnrecoverableError, type Job } from 'bullmq';
import { CarrierUnavailable } from '../../carriers/carrier.port.js';
import { buyLabel, type CarrierDecision, type LabelDeps, type LabelFulfilment, type ShipmentLabel } from '../../jobs/labels.job.js';
import type { CommandMetadata } from '../../write-side/decider.js';
import { FakeCarrier } from '../support/fake-carrier.js';
import { failure } from '../support/failure.js';

const FULFILMENT: LabelFulfilment = {
  fulfilmentId: 'f-1', orderId: 'o-1', kind: 'ship', status: 'packed', currency: 'EUR',
  delivery: { method: 'ship', speed: 'cheapest', address: { line1: '1 Road', city: 'Potsdam', postalCode: '14467', country: 'DE', geo: { lat: 52.39, lon: 13.06 } } },
  packages: [{ weightGrams: 1000, lengthCm: 20, widthCm: 15, heightCm: 10, lines: [{ sku: 'SKU-1', quantity: 1 }] }],
  location: { locationId: 'wh-1', geo: { lat: 52.52, lon: 13.405 }, cutoffHour: 16 },
  labelPurchase: { attempts: 0, refusedBy: [] },
};
const job = (attemptsMade = 0) => ({ id: 'evt-packed', name: 'FulfilmentPacked', data: { fulfilmentId: 'f-1', eventId: 'evt-packed' }, attemptsMade }) as unknown as Job<{ fulfilmentId: string; eventId: string }>;

describe('the label job', () => {
  let post: FakeCarrier;
  let parcel: FakeCarrier;
  let jet: FakeCarrier;
  let f: LabelFulfilment;
  let recorded: { choices: CarrierDecision[]; labels: ShipmentLabel[]; failures: unknown[]; metadata: CommandMetadata[] };
  let crashOnRecordLabel: boolean;
  let clock: Date;
  let deps: LabelDeps;
  beforeEach(() => {
    post = new FakeCarrier('nationalpost', 420, 4);
    parcel = new FakeCarrier('parcelnet', 450, 3);
    jet = new FakeCarrier('jetexpress', 990, 1);
    f = structuredClone(FULFILMENT);
    recorded = { choices: [], labels: [], failures: [], metadata: [] };
    crashOnRecordLabel = false;
    clock = new Date('2026-11-26T11:00:00.000Z');
    deps = {
      carriers: [post, parcel, jet],
      loadFulfilment: async (id) => (id === f.fulfilmentId ? structuredClone(f) : undefined),
      recordCarrierChoice: async (_id, decision, metadata) => {
        recorded.choices.push(decision);
        recorded.metadata.push(metadata);
        if (!f.carrierDecision) f = { ...f, carrierDecision: decision, labelPurchase: { ...f.labelPurchase, attempts: decision.attempt } };
        return structuredClone(f.carrierDecision!);
      },
      recordLabel: async (_id, label, metadata) => {
        if (crashOnRecordLabel) { crashOnRecordLabel = false; throw new Error('the worker died'); }
        recorded.labels.push(label);
        recorded.metadata.push(metadata);
        f.label ??= label;
        f.status = 'labelled';
      },
      recordLabelRefusal: async (_id, refusal) => {
        if (f.carrierDecision?.attempt !== refusal.attempt) return;
        const { carrierDecision: _, ...rest } = f;
        f = { ...rest, labelPurchase: { ...f.labelPurchase, refusedBy: [...f.labelPurchase.refusedBy, refusal.carrierId] } };
      },
      recordLabelFailure: async (_id, failure) => { recorded.failures.push(failure); },
      recordLabelCancellation: async () => { throw new Error('not here'); },
      recordLabelCancellationRefusal: async () => { throw new Error('not here'); },
      rules: { standardMaxDays: 5, preferences: { preferred: [], excluded: [], marginPercent: 0 } },
      quoteTimeoutMs: 100,
      now: () => clock,
    };
  });
  const labelsAtCarriers = () => post.labels.size + parcel.labels.size + jet.labels.size;

  it('rate-shops by the order\'s speed, records the choice, buys from the winner under label:<fulfilmentId> and records the label with the choice', async () => {
    await buyLabel(job(), deps);
    expect(recorded.choices).to.have.length(1);
    expect(recorded.choices[0]).to.deep.include({ from: FULFILMENT.location, readyAt: '2026-11-26T11:00:00.000Z' });
    expect(recorded.choices[0].quote).to.include({ carrierId: 'nationalpost', amount: 420 });
    expect(recorded.choices[0].choice.quotes).to.have.length(3);
    expect(post.purchases.map((p) => [p.idempotencyKey, p.service, p.reference])).to.deep.equal([['label:f-1', 'std', 'f-1']]);
    expect(recorded.labels).to.deep.equal([{
      shipmentId: 'f-1', carrierId: 'nationalpost', service: 'std', trackingNumber: 'nationalpost-1', labelUrl: 'https://labels/nationalpost',
      cost: 420, currency: 'EUR', estimatedDelivery: '2026-12-01', choice: recorded.choices[0].choice,
    }]);
    expect(recorded.metadata[1]).to.deep.equal({ now: clock.toISOString(), correlationId: 'o-1', causationId: 'evt-packed', actor: { kind: 'job', id: 'labels/evt-packed' } });
  });

  it('buys express from the fastest carrier', async () => {
    f.delivery = { ...FULFILMENT.delivery, speed: 'express' } as LabelFulfilment['delivery'];
    await buyLabel(job(), deps);
    expect(recorded.labels[0]).to.include({ carrierId: 'jetexpress' });
    expect(recorded.labels[0].choice.why).to.match(/^express: the fastest, jetexpress/);
  });

  it('does nothing for a fulfilment already labelled, not packed, or picked up in store', async () => {
    for (const other of [{ status: 'labelled', label: { trackingNumber: 'x' } as ShipmentLabel }, { status: 'cancelled' }, { kind: 'pickup' as const, delivery: { method: 'pickup' as const, locationId: 's-1' } }]) {
      f = { ...structuredClone(FULFILMENT), ...other };
      await buyLabel(job(), deps);
    }
    expect(recorded.choices.length + post.purchases.length + parcel.purchases.length + jet.purchases.length).to.equal(0);
  });

  it('after a lost answer buys again from the recorded carrier with the recorded request, even when another would win now: one label', async () => {
    post.buys = ['lose'];
    expect(await failure(buyLabel(job(), deps))).to.be.instanceOf(CarrierUnavailable);
    expect(recorded.labels).to.have.length(0);
    post.quotes = [new CarrierUnavailable('nationalpost', 'down')];       // the post would not even quote now
    clock = new Date('2026-11-26T18:00:00.000Z');                        // past the cut-off: a new request would differ
    await buyLabel(job(1), deps);
    expect(post.purchases.map((p) => p.readyAt)).to.deep.equal(['2026-11-26T11:00:00.000Z', '2026-11-26T11:00:00.000Z']);
    expect(parcel.purchases).to.have.length(0);
    expect(labelsAtCarriers()).to.equal(1);
    expect(recorded.labels.map((l) => l.trackingNumber)).to.deep.equal(['nationalpost-1']);
  });

  it('after a worker killed between buying and recording: the retry records the one label', async () => {
    crashOnRecordLabel = true;
    await failure(buyLabel(job(), deps));
    await buyLabel(job(1), deps);
    expect(labelsAtCarriers()).to.equal(1);
    expect(recorded.labels).to.have.length(1);
  });

  it('two runs at once that would choose differently buy from the one choice recorded first: one label', async () => {
    post.quotes = [400, 900];                                            // the first run sees the post cheapest, the second the parcel network
    await Promise.all([buyLabel(job(), deps), buyLabel(job(), deps)]);
    expect(recorded.choices.map((c) => c.quote.carrierId)).to.have.members(['nationalpost', 'parcelnet']);
    expect(labelsAtCarriers()).to.equal(1);
    expect(new Set(recorded.labels.map((l) => `${l.carrierId}/${l.trackingNumber}`)).size).to.equal(1);
    expect(recorded.labels[0].carrierId).to.equal(f.carrierDecision!.quote.carrierId);
  });

  it('a transient failure buying is thrown to be retried; the retry buys under the same key', async () => {
    parcel.buys = ['fail'];
    f.carrierDecision = { attempt: 1, quote: { carrierId: 'parcelnet', service: 'std', amount: 450, currency: 'EUR', transitDays: 3, estimatedDelivery: '2026-12-03' }, choice: { why: 'x', quotes: [], unavailable: [] }, from: FULFILMENT.location, readyAt: '2026-11-26T10:00:00.000Z' };
    expect(await failure(buyLabel(job(), deps))).to.be.instanceOf(CarrierUnavailable);
    await buyLabel(job(1), deps);
    expect(parcel.purchases.map((p) => p.idempotencyKey)).to.deep.equal(['label:f-1', 'label:f-1']);
    expect(recorded.choices).to.have.length(0);
    expect(recorded.labels.map((l) => l.carrierId)).to.deep.equal(['parcelnet']);
  });

  it('no carrier answered: throws to be retried, having recorded and bought nothing', async () => {
    for (const c of [post, parcel, jet]) c.quotes = [new CarrierUnavailable(c.carrierId, 'down')];
    const err = await failure(buyLabel(job(), deps));
    expect(err).to.not.be.instanceOf(UnrecoverableError);
    expect((err as Error).message).to.match(/no carrier answered/);
    expect(recorded.choices.length + labelsAtCarriers()).to.equal(0);
  });

  it('fails for good, recording why, when every carrier answered and none can take the packages, or the only one refuses', async () => {
    deps.carriers = [Object.assign(new FakeCarrier('tiny', 1, 1), { quote: async () => [] })];
    expect(await failure(buyLabel(job(), deps))).to.be.instanceOf(UnrecoverableError);
    expect(recorded.failures).to.deep.equal([{ carrierId: null, code: 'no_carrier', reason: 'no carrier can take fulfilment f-1: nothing to choose from: no carrier offers a service for these packages' }]);
    deps.carriers = [post];
    post.buys = ['refuse'];
    const err = await failure(buyLabel(job(), deps));
    expect(err).to.be.instanceOf(UnrecoverableError);
    expect((err as Error).message).to.equal('no_carrier: no carrier can take fulfilment f-1: every carrier refused the label: nationalpost');
    expect(post.purchases).to.have.length(1);
  });
});
