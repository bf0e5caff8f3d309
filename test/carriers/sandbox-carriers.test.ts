import { expect } from 'chai';
import type { Knex } from 'knex';
import { CarrierRefused, CarrierUnavailable, type PackageSpec, type Quote, type RateRequest } from '../../carriers/carrier.port.js';
import { createSandboxCarriers, SandboxCarrier, sandboxLabelAttempts, sandboxLabelCounts, sandboxLabels } from '../../carriers/sandbox-carriers.js';
import { billableGrams, SANDBOX_CARRIERS } from '../../carriers/sandbox-rates.js';
import type { SandboxFault } from '../../platform/config.js';
import { failure } from '../support/failure.js';
import { readModelWorld } from '../support/world.js';

const BERLIN = { locationId: 'wh-berlin', geo: { lat: 52.52, lon: 13.405 }, cutoffHour: 16 };
const PLACES = {
  potsdam: { lat: 52.39, lon: 13.06 },        // 27 km
  munich: { lat: 48.14, lon: 11.58 },         // 504 km
  newYork: { lat: 40.7, lon: -74 },           // 6,386 km
};
const address = (geo?: { lat: number; lon: number }) => ({ line1: '1 Road', city: 'Town', postalCode: '10000', country: 'DE', ...(geo ? { geo } : {}) });
const box = (weightGrams: number, [lengthCm, widthCm, heightCm] = [20, 15, 10]): PackageSpec => ({ weightGrams, lengthCm, widthCm, heightCm, lines: [{ sku: 'SKU-1', quantity: 1 }] });
const TUESDAY_10 = '2025-03-11T10:00:00.000Z';

let n = 0;
function request(overrides: Partial<RateRequest> = {}): RateRequest {
  return { from: BERLIN, to: address(PLACES.potsdam), packages: [box(1000)], currency: 'EUR', reference: `f-${++n}`, readyAt: TUESDAY_10, ...overrides };
}
const amounts = (quotes: Quote[]) => Object.fromEntries(quotes.map((q) => [`${q.carrierId}/${q.service}`, q.amount]));

describe('sandbox carriers', () => {
  let knex: Knex;
  let cleanup: () => Promise<void>;
  const carrier = (id: keyof typeof SANDBOX_CARRIERS, faults: SandboxFault[] = [], options: { now?: () => Date; clock?: number } = {}) =>
    new SandboxCarrier(knex, SANDBOX_CARRIERS[id], { latencyMs: 2, faults, slowMs: 200, ...options });
  before(async () => { ({ knex, cleanup } = await readModelWorld()); });
  after(async () => { await cleanup(); });

  async function quoteAll(r: RateRequest): Promise<Quote[]> {
    return (await Promise.all(createSandboxCarriers(knex, { enabled: ['nationalpost', 'parcelnet', 'jetexpress'], sandbox: { latencyMs: 2, faults: {}, clock: 1 } })
      .map((c) => c.quote(r)))).flat();
  }

  describe('rates', () => {
    it('price a compact 1 kg parcel by each carrier\'s zones: the post is cheapest nearby, the parcel network farther away', async () => {
      expect(amounts(await quoteAll(request()))).to.deep.equal({
        'nationalpost/economy': 420, 'nationalpost/priority': 630, 'parcelnet/ground': 450, 'parcelnet/priority': 585, 'jetexpress/express': 990, 'jetexpress/express_saver': 792,
      });
      expect(amounts(await quoteAll(request({ to: address(PLACES.munich) })))).to.deep.equal({
        'nationalpost/economy': 790, 'nationalpost/priority': 1185, 'parcelnet/ground': 560, 'parcelnet/priority': 728, 'jetexpress/express': 1490, 'jetexpress/express_saver': 1192,
      });
    });

    it('charge an address without coordinates as the farthest zone', async () => {
      expect(amounts(await quoteAll(request({ to: address() })))).to.deep.equal(amounts(await quoteAll(request({ to: address(PLACES.newYork) }))));
    });

    it('charge by weight band, and carry only up to their heaviest band', async () => {
      expect(amounts(await quoteAll(request({ packages: [box(18_000)] })))).to.include({ 'nationalpost/economy': 1890, 'parcelnet/ground': 820, 'jetexpress/express': 2890 });
      const heavy = amounts(await quoteAll(request({ packages: [box(25_000)] })));
      expect(heavy).to.not.have.property('nationalpost/economy');
      expect(heavy).to.include({ 'parcelnet/ground': 990, 'jetexpress/express': 3790 });
      expect(amounts(await quoteAll(request({ packages: [box(1000), box(18_000)] })))).to.include({ 'parcelnet/ground': 450 + 820 });
    });

    it('charge a bulky light box by its dimensional weight, the express courier\'s smaller divisor weighing heaviest', async () => {
      const bulky = box(1000, [50, 40, 30]);
      expect(['nationalpost', 'parcelnet', 'jetexpress'].map((id) => billableGrams(SANDBOX_CARRIERS[id as 'parcelnet'], bulky))).to.deep.equal([10_000, 12_000, 15_000]);
      expect(amounts(await quoteAll(request({ packages: [bulky] })))).to.include({ 'nationalpost/economy': 1190, 'parcelnet/ground': 820, 'jetexpress/express': 2890 });
    });

    it('refuse a package longer than they carry', async () => {
      expect(await carrier('nationalpost').quote(request({ packages: [box(1000, [120, 20, 20])] }))).to.deep.equal([]);
      expect(await carrier('parcelnet').quote(request({ packages: [box(1000, [120, 20, 20])] }))).to.have.length(2);
    });
  });

  describe('transit and cut-off', () => {
    const deliveries = async (readyAt: string) => Object.fromEntries((await quoteAll(request({ readyAt }))).map((q) => [`${q.carrierId}/${q.service}`, q.estimatedDelivery]));

    it('count transit in working days from a handover the same day before the location\'s cut-off', async () => {
      expect(await deliveries(TUESDAY_10)).to.deep.equal({
        'nationalpost/economy': '2025-03-17', 'nationalpost/priority': '2025-03-13', 'parcelnet/ground': '2025-03-14',
        'parcelnet/priority': '2025-03-13', 'jetexpress/express': '2025-03-12', 'jetexpress/express_saver': '2025-03-13',
      });
    });

    it('hand over the next working day when ready at or after the cut-off, which moves every estimate a day', async () => {
      const after = await deliveries('2025-03-11T16:00:00.000Z');
      expect(after).to.include({ 'jetexpress/express': '2025-03-13', 'nationalpost/economy': '2025-03-18' });
      expect(await deliveries('2025-03-14T17:30:00.000Z')).to.include({ 'jetexpress/express': '2025-03-18' });     // Friday evening: Monday's handover
      const early = await carrier('jetexpress').quote(request({ from: { ...BERLIN, cutoffHour: 9 } }));
      expect(early.find((q) => q.service === 'express')!.estimatedDelivery).to.equal('2025-03-13');
    });

    it('add transit days for far zones', async () => {
      const far = await quoteAll(request({ to: address(PLACES.newYork) }));
      expect(far.find((q) => q.carrierId === 'nationalpost' && q.service === 'economy')!.transitDays).to.equal(9);
      expect(far.find((q) => q.carrierId === 'jetexpress' && q.service === 'express')!.transitDays).to.equal(3);
    });
  });

  describe('failures while quoting', () => {
    it('a carrier that is down answers CarrierUnavailable', async () => {
      expect(await failure(carrier('jetexpress', [{ fault: 'down' }]).quote(request()))).to.be.instanceOf(CarrierUnavailable);
    });

    it('a slow carrier answers late, or not at all once its caller gives up', async () => {
      const started = Date.now();
      expect(await carrier('parcelnet', [{ fault: 'slow' }]).quote(request())).to.have.length(2);
      expect(Date.now() - started).to.be.at.least(200);
      const err = await failure(carrier('parcelnet', [{ fault: 'slow' }]).quote(request(), { signal: AbortSignal.timeout(20) }));
      expect((err as Error).name).to.equal('TimeoutError');
    });
  });

  describe('labels', () => {
    const buy = (c: SandboxCarrier, r: RateRequest, service = 'ground') => c.buyLabel({ ...r, service, idempotencyKey: `label:${r.reference}` });

    it('makes one label per idempotency key, however often and however concurrently it is asked', async () => {
      const r = request();
      const parcelnet = carrier('parcelnet');
      const labels = await Promise.all(Array.from({ length: 6 }, () => buy(parcelnet, r)));
      expect(new Set(labels.map((l) => l.trackingNumber)).size).to.equal(1);
      expect(labels[0]).to.include({ carrierId: 'parcelnet', service: 'ground', cost: 450, currency: 'EUR', estimatedDelivery: '2025-03-14' });
      expect(labels[0].trackingNumber).to.match(/^PN\d{12}$/);
      expect(labels[0].labelUrl).to.equal(`https://labels.parcelnet.sandbox.example/${labels[0].trackingNumber}.pdf`);
      expect(await sandboxLabels(knex, r.reference)).to.have.length(1);
      expect(await sandboxLabelAttempts(knex, 'parcelnet', `label:${r.reference}`)).to.equal(6);
    });

    it('fails a purchase once with fail_once, then makes the label', async () => {
      const r = request();
      const c = carrier('parcelnet', [{ fault: 'fail_once', reference: r.reference }]);
      expect(await failure(buy(c, r))).to.be.instanceOf(CarrierUnavailable);
      expect(await sandboxLabels(knex, r.reference)).to.have.length(0);
      const label = await buy(c, r);
      expect((await sandboxLabels(knex, r.reference)).map((l) => l.trackingNumber)).to.deep.equal([label.trackingNumber]);
      expect(await sandboxLabelAttempts(knex, 'parcelnet', `label:${r.reference}`)).to.equal(2);
    });

    it('makes the label but loses the answer with lose_once; the retry under the same key gets that label', async () => {
      const r = request();
      const c = carrier('jetexpress', [{ fault: 'lose_once' }]);
      expect(await failure(buy(c, r, 'express'))).to.be.instanceOf(CarrierUnavailable);
      const [made] = await sandboxLabels(knex, r.reference);
      expect(made).to.include({ carrierId: 'jetexpress', service: 'express', cancelled: false });
      expect((await buy(c, r, 'express')).trackingNumber).to.equal(made.trackingNumber);
      expect((await sandboxLabelCounts(knex)).get(r.reference)).to.equal(1);
    });

    it('refuses the first purchase of a shipment for good with refuse_once, answering that key with the refusal again, and sells under another key', async () => {
      const r = request();
      const c = carrier('parcelnet', [{ fault: 'refuse_once' }]);
      for (let i = 0; i < 2; i++) {
        const refused = await failure(buy(c, r));
        expect(refused).to.be.instanceOf(CarrierRefused);
        expect((refused as CarrierRefused).code).to.equal('address_not_serviceable');
      }
      expect(await sandboxLabels(knex, r.reference)).to.have.length(0);
      const label = await c.buyLabel({ ...r, service: 'ground', idempotencyKey: `label:${r.reference}:2` });
      expect((await sandboxLabels(knex, r.reference)).map((l) => l.trackingNumber)).to.deep.equal([label.trackingNumber]);
      expect(await sandboxLabelAttempts(knex, 'parcelnet', `label:${r.reference}`)).to.equal(2);
    });

    it('keeps faults for one reference to that reference', async () => {
      const c = carrier('parcelnet', [{ fault: 'fail_once', reference: 'someone-else' }]);
      expect((await buy(c, request())).trackingNumber).to.match(/^PN/);
    });

    it('refuses a key reused for a different request, and a service it does not offer', async () => {
      const r = request();
      const c = carrier('parcelnet');
      await buy(c, r);
      const reused = await failure(buy(c, { ...r, packages: [box(2000)] }));
      expect(reused).to.be.instanceOf(CarrierRefused);
      expect((reused as CarrierRefused).code).to.equal('idempotency_key_reused');
      expect(((await failure(buy(c, request(), 'teleport'))) as CarrierRefused).code).to.equal('service_not_offered');
      expect(((await failure(buy(carrier('nationalpost'), request({ packages: [box(25_000)] }), 'economy'))) as CarrierRefused).code).to.equal('service_not_offered');
      expect((await sandboxLabelCounts(knex)).get(r.reference)).to.equal(1);
    });

    it('refuses every call while down', async () => {
      expect(await failure(buy(carrier('parcelnet', [{ fault: 'down' }]), request()))).to.be.instanceOf(CarrierUnavailable);
    });
  });

  describe('tracking', () => {
    let now: Date;
    const clockNow = () => now;
    const statuses = async (c: SandboxCarrier, trackingNumber: string) => (await c.track(trackingNumber)).map((u) => u.status);

    async function labelAt(start: string, faults: SandboxFault[] = [], clock = 1) {
      now = new Date(start);
      const c = carrier('parcelnet', faults, { now: clockNow, clock });
      const r = request({ readyAt: start });
      return { c, label: await c.buyLabel({ ...r, service: 'ground', idempotencyKey: `label:${r.reference}` }) };
    }

    it('moves a label on by its own clock: collected at the cut-off, delivered on its estimated day', async () => {
      const { c, label } = await labelAt(TUESDAY_10);
      expect(await statuses(c, label.trackingNumber)).to.deep.equal(['label_created']);
      now = new Date('2025-03-11T16:00:00.000Z');
      expect(await statuses(c, label.trackingNumber)).to.deep.equal(['label_created', 'in_transit']);
      now = new Date('2025-03-14T09:00:00.000Z');
      expect(await statuses(c, label.trackingNumber)).to.deep.equal(['label_created', 'in_transit', 'out_for_delivery']);
      now = new Date('2025-03-14T13:00:00.000Z');
      const history = await c.track(label.trackingNumber);
      expect(history.map((u) => u.status)).to.deep.equal(['label_created', 'in_transit', 'out_for_delivery', 'delivered']);
      expect(history[3]).to.deep.equal({ trackingNumber: label.trackingNumber, status: 'delivered', at: '2025-03-14T13:00:00.000Z', detail: 'Delivered', location: 'Town' });
    });

    it('runs the clock faster with a factor: a 3-day delivery in 1/3600 of the time', async () => {
      const { c, label } = await labelAt(TUESDAY_10, [], 3600);
      const deliveredAfterMs = (Date.parse('2025-03-14T13:00:00.000Z') - Date.parse(TUESDAY_10)) / 3600;
      now = new Date(Date.parse(TUESDAY_10) + deliveredAfterMs - 1);
      expect(await statuses(c, label.trackingNumber)).to.deep.equal(['label_created', 'in_transit', 'out_for_delivery']);
      now = new Date(Date.parse(TUESDAY_10) + deliveredAfterMs);
      const history = await c.track(label.trackingNumber);
      expect(history.at(-1)).to.include({ status: 'delivered', at: now.toISOString() });
    });

    it('fails the first delivery attempt with delivery_exception and delivers the next working day', async () => {
      const { c, label } = await labelAt(TUESDAY_10, [{ fault: 'delivery_exception' }]);
      now = new Date('2025-03-20T00:00:00.000Z');
      const history = await c.track(label.trackingNumber);
      expect(history.map((u) => [u.status, u.at.slice(0, 10)])).to.deep.equal([
        ['label_created', '2025-03-11'], ['in_transit', '2025-03-11'], ['out_for_delivery', '2025-03-14'], ['exception', '2025-03-14'],
        ['out_for_delivery', '2025-03-17'], ['delivered', '2025-03-17'],
      ]);
    });

    it('voids a label before the handover, which then never moves; refuses once it is in transit', async () => {
      const { c, label } = await labelAt(TUESDAY_10);
      await c.cancelLabel(label.trackingNumber);
      await c.cancelLabel(label.trackingNumber);
      now = new Date('2025-03-20T00:00:00.000Z');
      expect(await statuses(c, label.trackingNumber)).to.deep.equal(['label_created']);
      const shipped = await labelAt(TUESDAY_10);
      now = new Date('2025-03-12T00:00:00.000Z');
      expect(((await failure(shipped.c.cancelLabel(shipped.label.trackingNumber))) as CarrierRefused).code).to.equal('already_handed_over');
      expect(((await failure(c.track('PN000000000000'))) as CarrierRefused).code).to.equal('unknown_tracking_number');
    });
  });
});
