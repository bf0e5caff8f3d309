import { expect } from 'chai';
import { sandboxLabelCounts } from '../../carriers/sandbox-carriers.js';
import { KEYS, startHarness, type Harness } from '../support/service-harness.js';

const POTSDAM = { line1: '1 Platz der Einheit', city: 'Potsdam', postalCode: '14467', country: 'DE', geo: { lat: 52.39, lon: 13.06 } };
const PARCEL = { weightGrams: 1000, lengthCm: 20, widthCm: 15, heightCm: 10 };

describe('carriers and shipping rates over the API', function () {
  this.timeout(60_000);
  let h: Harness;
  let position: number;
  before(async () => {
    h = await startHarness({
      SANDBOX_CARRIER_FAULTS: JSON.stringify({ jetexpress: 'down', parcelnet: [{ fault: 'slow' }] }),
      SANDBOX_CARRIER_LATENCY_MS: '2',
      CARRIER_QUOTE_TIMEOUT_MS: '400',
    });
    const wh = await h.call('PUT', '/locations/wh-berlin', { key: KEYS.operator, body: { name: 'Berlin DC', type: 'warehouse', geo: { lat: 52.52, lon: 13.405 }, canShip: true, canPickup: false } });
    const store = await h.call('PUT', '/locations/store-mitte', { key: KEYS.operator, body: { name: 'Mitte', type: 'store', geo: { lat: 52.52, lon: 13.4 }, canShip: false, canPickup: true } });
    expect([wh.status, store.status]).to.deep.equal([201, 201]);
    position = store.body.position;
  });
  after(async () => { await h.stop(); });

  const rates = (body: unknown, key: string = KEYS.client) => h.call('POST', `/shipping/rates?minPosition=${position}`, { key, body });

  describe('GET /carriers', () => {
    it('lists the configured carriers with their services', async () => {
      const r = await h.call('GET', '/carriers', { key: KEYS.operator });
      expect(r.status).to.equal(200);
      expect(r.body.carriers.map((c: { carrierId: string }) => c.carrierId)).to.deep.equal(['nationalpost', 'parcelnet', 'jetexpress']);
      expect(r.body.carriers[2]).to.deep.equal({
        carrierId: 'jetexpress', name: 'JetExpress',
        services: [{ code: 'express', name: 'Express', transitDays: 1 }, { code: 'express_saver', name: 'Express Saver', transitDays: 2 }],
      });
    });

    it('is for operators', async () => {
      expect((await h.call('GET', '/carriers', { key: KEYS.client })).status).to.equal(403);
    });
  });

  describe('POST /shipping/rates', () => {
    it('answers the quotes of the carriers that answer in time, cheapest first, and lists the one down and the one too slow', async () => {
      const started = Date.now();
      const r = await rates({ from: 'wh-berlin', to: POTSDAM, packages: [PARCEL], currency: 'EUR' });
      expect(r.status).to.equal(200);
      expect(Date.now() - started).to.be.below(2000);
      expect(r.body.unavailable).to.deep.equal(['parcelnet', 'jetexpress']);
      expect(r.body.quotes.map((q: { carrierId: string; service: string; amount: number; currency: string }) => [q.carrierId, q.service, q.amount, q.currency]))
        .to.deep.equal([['nationalpost', 'economy', 420, 'EUR'], ['nationalpost', 'priority', 630, 'EUR']]);
      expect(r.body.quotes[0].estimatedDelivery).to.match(/^\d{4}-\d{2}-\d{2}$/);
      expect(r.body.position).to.be.at.least(position);
    });

    it('buys nothing', async () => {
      await rates({ from: 'wh-berlin', to: POTSDAM, packages: [PARCEL, PARCEL] });
      expect((await sandboxLabelCounts(h.service.knex)).size).to.equal(0);
    });

    it('quotes an address without coordinates as the farthest zone, in EUR unless told', async () => {
      const { geo: _geo, ...noGeo } = POTSDAM;
      const r = await rates({ from: 'wh-berlin', to: noGeo, packages: [PARCEL] }, KEYS.operator);
      expect(r.status).to.equal(200);
      expect(r.body.quotes[0]).to.include({ carrierId: 'nationalpost', service: 'economy', amount: 1590, currency: 'EUR', transitDays: 9 });
    });

    const bad: [string, unknown][] = [
      ['no packages', { from: 'wh-berlin', to: POTSDAM, packages: [] }],
      ['a package of no weight', { from: 'wh-berlin', to: POTSDAM, packages: [{ ...PARCEL, weightGrams: 0 }] }],
      ['a package measured in fractions', { from: 'wh-berlin', to: POTSDAM, packages: [{ ...PARCEL, lengthCm: 20.5 }] }],
      ['an unknown field', { from: 'wh-berlin', to: POTSDAM, packages: [PARCEL], speed: 'express' }],
      ['a bad currency', { from: 'wh-berlin', to: POTSDAM, packages: [PARCEL], currency: 'euro' }],
      ['no destination', { from: 'wh-berlin', packages: [PARCEL] }],
      ['a destination out of range', { from: 'wh-berlin', to: { ...POTSDAM, geo: { lat: 100, lon: 0 } }, packages: [PARCEL] }],
      ['a bad location id', { from: 'wh berlin', to: POTSDAM, packages: [PARCEL] }],
    ];
    for (const [name, body] of bad) {
      it(`refuses ${name} with 400`, async () => {
        const r = await rates(body);
        expect(r.status).to.equal(400);
        expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(r.body.errors.length).to.be.at.least(1);
      });
    }

    it('answers 404 for an unknown location and 409 for one that does not ship', async () => {
      expect((await rates({ from: 'nowhere', to: POTSDAM, packages: [PARCEL] })).status).to.equal(404);
      const r = await rates({ from: 'store-mitte', to: POTSDAM, packages: [PARCEL] });
      expect([r.status, r.body.code]).to.deep.equal([409, 'location.cannot_ship']);
    });

    it('is in the OpenAPI document with the body it validates', async () => {
      const { paths } = (await h.call('GET', '/openapi.json', { key: null })).body;
      expect(paths['/shipping/rates'].post.requestBody.content['application/json'].schema.required).to.deep.equal(['from', 'to', 'packages']);
      expect(paths['/carriers'].get).to.be.an('object');
    });

    it('is for clients and operators', async () => {
      expect((await rates({ from: 'wh-berlin', to: POTSDAM, packages: [PARCEL] }, KEYS.analyst)).status).to.equal(403);
      expect((await h.call('POST', '/shipping/rates', { key: null, body: { from: 'wh-berlin', to: POTSDAM, packages: [PARCEL] } })).status).to.equal(401);
    });
  });
});
