import { expect } from 'chai';
import { UnrecoverableError } from 'bullmq';
import { CarrierUnavailable } from '../../carriers/carrier.port.js';
import { buyLabel, cancelLabel, labelRecordersFrom, type LabelDeps, type LabelJob } from '../../jobs/labels.job.js';
import { fulfilmentStream } from '../../write-side/fulfilments/fulfilment.decider.js';
import type { PackageSpec } from '../../write-side/fulfilments/fulfilment.events.js';
import { FakeCarrier } from '../support/fake-carrier.js';
import { failure } from '../support/failure.js';
import { meta } from '../support/given-when-then.js';
import { aJob, jobWorld } from '../support/job-world.js';

// The label jobs against the real write side (in memory): what a refusal, a failure past the
// retries and a cancellation record on the fulfilment, and what the carriers end up holding.

const LINES = [{ sku: 'SKU-1', quantity: 2 }];
const PARCEL: PackageSpec[] = [{ weightGrams: 1000, lengthCm: 20, widthCm: 15, heightCm: 10, lines: LINES }];

describe('label jobs on the write side', () => {
  let world: ReturnType<typeof jobWorld>;
  let post: FakeCarrier;
  let parcel: FakeCarrier;
  let jet: FakeCarrier;
  let deps: LabelDeps;
  let fulfilmentId: string;

  beforeEach(async () => {
    world = jobWorld();
    post = new FakeCarrier('nationalpost', 420, 4);
    parcel = new FakeCarrier('parcelnet', 450, 3);
    jet = new FakeCarrier('jetexpress', 990, 1);
    deps = {
      ...labelRecordersFrom(world.write), carriers: [post, parcel, jet],
      rules: { standardMaxDays: 5, preferences: { preferred: [], excluded: [], marginPercent: 0 } }, quoteTimeoutMs: 100, now: () => new Date('2026-11-26T11:00:00.000Z'),
    };
    await world.write.registerLocation({ locationId: 'wh-1', name: 'WH 1', type: 'warehouse', geo: { lat: 52.52, lon: 13.405 }, canShip: true, canPickup: false }, meta());
    const orderId = await world.placeOrder();
    const order = await world.write.loadOrder(orderId);
    if (order.status === 'none') throw new Error('no order');
    ({ fulfilmentId } = await world.write.createFulfilment({ orderId, locationId: 'wh-1', kind: 'ship', lines: LINES, delivery: order.order.delivery, allocationSeq: 0 }, meta()));
    await world.write.recordPick(fulfilmentId, LINES, meta());
    await world.write.packFulfilment(fulfilmentId, PARCEL, meta());
  });

  const events = async () => (await world.store.readStream(fulfilmentStream(fulfilmentId))).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));
  const types = async () => (await events()).map((e) => e.type);
  /** The job of the fulfilment's latest event of that type, with `made` failed runs before. */
  async function jobOf(type: 'FulfilmentPacked' | 'FulfilmentCancelled', made = 0, attempts = 8): Promise<LabelJob> {
    const e = (await world.store.readStream(fulfilmentStream(fulfilmentId))).filter((r) => r.type === type).at(-1)!;
    return Object.assign(aJob(type, { fulfilmentId, orderId: (e.data as { orderId: string }).orderId, eventId: e.id }, { made }), { opts: { attempts } });
  }
  const keys = (c: FakeCarrier) => c.purchases.map((p) => p.idempotencyKey);
  const labelsAtCarriers = () => post.labels.size + parcel.labels.size + jet.labels.size;

  describe('a carrier that refuses the label', () => {
    it('is recorded, and the label is bought from the next best carrier as the next purchase, under a key of its own', async () => {
      post.buys = ['refuse'];
      await buyLabel(await jobOf('FulfilmentPacked'), deps);
      expect(await types()).to.deep.equal(['FulfilmentCreated', 'FulfilmentPicked', 'FulfilmentPacked',
        'FulfilmentCarrierChosen', 'LabelPurchaseRefused', 'FulfilmentCarrierChosen', 'FulfilmentLabelled']);
      const [, refused, second] = (await events()).slice(3);
      expect(refused.data).to.include({ attempt: 1, carrierId: 'nationalpost', service: 'std', code: 'service_not_offered' });
      expect(second.data.decision).to.deep.include({ attempt: 2 });
      expect((second.data.decision as { choice: { why: string } }).choice.why).to.match(/parcelnet .*; nationalpost refused the label$/);
      expect([keys(post), keys(parcel), keys(jet)]).to.deep.equal([[`label:${fulfilmentId}`], [`label:${fulfilmentId}:2`], []]);
      const f = await world.write.loadFulfilment(fulfilmentId);
      expect(f.status === 'labelled' && f.label.carrierId).to.equal('parcelnet');
    });

    it('each in turn: once none is left, the failure is recorded with who refused, the job fails for good and the fulfilment stays packed', async () => {
      for (const c of [post, parcel, jet]) c.buys = ['refuse'];
      const err = await failure(buyLabel(await jobOf('FulfilmentPacked'), deps));
      expect(err).to.be.instanceOf(UnrecoverableError);
      expect((err as Error).message).to.match(/^no_carrier: no carrier can take fulfilment .*: every carrier refused the label: nationalpost, parcelnet, jetexpress$/);
      const failed = (await events()).at(-1)!;
      expect(failed.type).to.equal('LabelPurchaseFailed');
      expect(failed.data).to.deep.include({ attempt: 3, carrierId: null, code: 'no_carrier', refusedBy: ['nationalpost', 'parcelnet', 'jetexpress'] });
      const f = await world.write.loadFulfilment(fulfilmentId);
      expect(f.status === 'packed' && [f.carrierDecision, f.labelPurchase.failure?.code]).to.deep.equal([undefined, 'no_carrier']);
      expect(labelsAtCarriers()).to.equal(0);
    });

    it('an operator\'s retry after that tries every carrier again, as a new purchase: the carrier that refused key 1 sells the label under key 4', async () => {
      for (const c of [post, parcel, jet]) c.buys = ['refuse'];
      await failure(buyLabel(await jobOf('FulfilmentPacked'), deps));
      await buyLabel(await jobOf('FulfilmentPacked'), deps);
      expect(keys(post)).to.deep.equal([`label:${fulfilmentId}`, `label:${fulfilmentId}:4`]);
      const f = await world.write.loadFulfilment(fulfilmentId);
      expect(f.status === 'labelled' && [f.label.carrierId, f.labelPurchase.failure]).to.deep.equal(['nationalpost', undefined]);
      expect(labelsAtCarriers()).to.equal(1);
    });

    it('packing it again after that starts a new label job, which tries every carrier again', async () => {
      for (const c of [post, parcel, jet]) c.buys = ['refuse'];
      await failure(buyLabel(await jobOf('FulfilmentPacked'), deps));
      const repacked = await world.write.packFulfilment(fulfilmentId, [{ ...PARCEL[0], weightGrams: 900 }], meta());
      expect(repacked.events.map((e) => e.type)).to.deep.equal(['FulfilmentPacked']);
      await buyLabel(await jobOf('FulfilmentPacked'), deps);
      const f = await world.write.loadFulfilment(fulfilmentId);
      expect(f.status === 'labelled' && [f.label.carrierId, f.packages[0].weightGrams]).to.deep.equal(['nationalpost', 900]);
    });
  });

  describe('a purchase whose answers are lost', () => {
    it('is never shopped elsewhere: past the job\'s attempts the failure is recorded with the carrier, whose choice holds for the retry: one label', async () => {
      post.buys = ['lose', 'fail'];
      expect(await failure(buyLabel(await jobOf('FulfilmentPacked', 0, 2), deps))).to.be.instanceOf(CarrierUnavailable);
      expect(await types()).to.not.include('LabelPurchaseFailed');
      expect(await failure(buyLabel(await jobOf('FulfilmentPacked', 1, 2), deps))).to.be.instanceOf(CarrierUnavailable);
      const failed = (await events()).at(-1)!;
      expect(failed.type).to.equal('LabelPurchaseFailed');
      expect(failed.data).to.deep.include({ attempt: 1, carrierId: 'nationalpost', code: 'retries_exhausted', reason: 'try again', refusedBy: [] });
      expect(parcel.purchases.length + jet.purchases.length, 'purchases anywhere else').to.equal(0);

      await buyLabel(await jobOf('FulfilmentPacked'), deps);             // the operator's retry
      expect(keys(post)).to.deep.equal(Array(3).fill(`label:${fulfilmentId}`));
      expect(labelsAtCarriers()).to.equal(1);
      const f = await world.write.loadFulfilment(fulfilmentId);
      expect(f.status === 'labelled' && f.label.trackingNumber).to.equal('nationalpost-1');
      expect(await types()).to.not.include('LabelPurchaseRefused');
    });

    it('cannot be packed otherwise while its choice holds (the label may exist): 409', async () => {
      post.buys = ['lose'];
      await failure(buyLabel(await jobOf('FulfilmentPacked', 7), deps));
      const err = await failure(world.write.packFulfilment(fulfilmentId, [{ ...PARCEL[0], weightGrams: 900 }], meta()));
      expect(err).to.have.property('code', 'fulfilment.already_packed');
    });
  });

  it('no carrier answering on the last attempt: the failure is recorded without a carrier', async () => {
    for (const c of [post, parcel, jet]) c.quotes = [new CarrierUnavailable(c.carrierId, 'down')];
    await failure(buyLabel(await jobOf('FulfilmentPacked', 7), deps));
    expect((await events()).at(-1)!.data).to.deep.include({ attempt: 0, carrierId: null, code: 'retries_exhausted' });
  });

  describe('a fulfilment cancelled before its handover', () => {
    const cancel = () => world.write.cancelFulfilment(fulfilmentId, 'order cancelled', meta());

    it('with a label: the label is voided at its carrier and that recorded, once however often the job runs', async () => {
      await buyLabel(await jobOf('FulfilmentPacked'), deps);
      await cancel();
      await cancelLabel(await jobOf('FulfilmentCancelled'), deps);
      await cancelLabel(await jobOf('FulfilmentCancelled', 1), deps);
      expect(post.voided).to.deep.equal(['nationalpost-1']);
      expect((await events()).filter((e) => e.type === 'LabelCancelled').map((e) => e.data)).to.deep.equal([
        { fulfilmentId, orderId: (await events())[0].data.orderId, locationId: 'wh-1', at: '2026-11-26T11:00:00.000Z', carrierId: 'nationalpost', trackingNumber: 'nationalpost-1' },
      ]);
    });

    it('while its label was being bought (the answer lost): the purchase is asked again under its key, and the label the carrier made is voided', async () => {
      post.buys = ['lose'];
      await failure(buyLabel(await jobOf('FulfilmentPacked'), deps));
      await cancel();
      await cancelLabel(await jobOf('FulfilmentCancelled'), deps);
      expect(keys(post)).to.deep.equal([`label:${fulfilmentId}`, `label:${fulfilmentId}`]);
      expect(labelsAtCarriers()).to.equal(1);
      expect(post.voided).to.deep.equal(['nationalpost-1']);
      expect(await types()).to.include('LabelCancelled');
    });

    it('with nothing bought: nothing to void', async () => {
      await cancel();
      await cancelLabel(await jobOf('FulfilmentCancelled'), deps);
      expect(post.purchases.length + labelsAtCarriers()).to.equal(0);
      expect(await types()).to.not.include('LabelCancelled');
    });

    it('a carrier that will not void it: the refusal is recorded and the job fails for good; a carrier not answering is retried', async () => {
      await buyLabel(await jobOf('FulfilmentPacked'), deps);
      await cancel();
      post.voids = ['fail', 'refuse'];
      expect(await failure(cancelLabel(await jobOf('FulfilmentCancelled'), deps))).to.be.instanceOf(CarrierUnavailable);
      expect(await failure(cancelLabel(await jobOf('FulfilmentCancelled', 1), deps))).to.be.instanceOf(UnrecoverableError);
      expect((await events()).at(-1)).to.deep.include({ type: 'LabelCancellationRefused' });
      expect((await events()).at(-1)!.data).to.include({ carrierId: 'nationalpost', trackingNumber: 'nationalpost-1', code: 'already_handed_over' });
      expect(post.voided).to.deep.equal([]);
    });
  });
});
