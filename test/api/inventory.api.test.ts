import { expect } from 'chai';
import { KEYS, startHarness, type Harness } from '../support/service-harness.js';

describe('locations and inventory API', function () {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.stop(); });

  const wh = { name: 'Central DC', type: 'warehouse', geo: { lat: 52.5, lon: 13.4 }, canShip: true, canPickup: false, handlingCost: 150 };

  it('registers a location with 201, updates it with 200, and lists it', async () => {
    const first = await h.call('PUT', '/locations/dc-1', { key: KEYS.operator, body: wh });
    expect(first.status).to.equal(201);
    expect(first.body).to.include({ locationId: 'dc-1', name: 'Central DC', active: true, handlingCost: 150 });
    const second = await h.call('PUT', '/locations/dc-1', { key: KEYS.operator, body: { ...wh, name: 'Central DC Berlin' } });
    expect(second.status).to.equal(200);
    const same = await h.call('PUT', '/locations/dc-1', { key: KEYS.operator, body: { ...wh, name: 'Central DC Berlin' } });
    expect(same.status).to.equal(200);
    expect(same.body.position).to.equal(second.body.position);
    const list = await h.call('GET', `/locations?minPosition=${second.body.position}`, { key: KEYS.analyst });
    expect(list.status).to.equal(200);
    expect(list.body.position).to.be.at.least(second.body.position);
    const dc = list.body.locations.find((l: { locationId: string }) => l.locationId === 'dc-1');
    expect(dc).to.include({ name: 'Central DC Berlin', type: 'warehouse', canShip: true, canPickup: false, handlingCost: 150, active: true });
    expect(dc.geo).to.deep.equal({ lat: 52.5, lon: 13.4 });
  });

  it('takes a daily capacity and a cut-off hour, keeps them when left out, lifts the capacity with null, and refuses an hour past 23', async () => {
    const set = await h.call('PUT', '/locations/dc-cap', { key: KEYS.operator, body: { ...wh, dailyCapacity: 40, cutoffHour: 14 } });
    expect(set.status).to.equal(201);
    expect(set.body).to.include({ dailyCapacity: 40, cutoffHour: 14 });
    const kept = await h.call('PUT', '/locations/dc-cap', { key: KEYS.operator, body: { ...wh, name: 'Capped DC' } });
    expect(kept.body).to.include({ name: 'Capped DC', dailyCapacity: 40, cutoffHour: 14 });
    let list = await h.call('GET', `/locations?minPosition=${kept.body.position}`, { key: KEYS.analyst });
    expect(list.body.locations.find((l: { locationId: string }) => l.locationId === 'dc-cap')).to.include({ dailyCapacity: 40, cutoffHour: 14 });
    const lifted = await h.call('PUT', '/locations/dc-cap', { key: KEYS.operator, body: { ...wh, dailyCapacity: null } });
    expect(lifted.body).not.to.have.property('dailyCapacity');
    list = await h.call('GET', `/locations?minPosition=${lifted.body.position}`, { key: KEYS.analyst });
    const dc = list.body.locations.find((l: { locationId: string }) => l.locationId === 'dc-cap');
    expect(dc).to.include({ cutoffHour: 14 });
    expect(dc).not.to.have.property('dailyCapacity');
    const plain = list.body.locations.find((l: { locationId: string }) => l.locationId === 'dc-1');
    expect(plain).to.include({ cutoffHour: 16 });
    const refused = await h.call('PUT', '/locations/dc-cap', { key: KEYS.operator, body: { ...wh, cutoffHour: 24 } });
    expect(refused.status).to.equal(400);
    expect(refused.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['/cutoffHour']);
  });

  it('receives and adjusts stock, refusing to go below zero, and reports it per location', async () => {
    await h.call('PUT', '/locations/dc-2', { key: KEYS.operator, body: wh });
    await h.call('PUT', '/locations/store-2', { key: KEYS.operator, body: { ...wh, type: 'store', canPickup: true } });
    const r1 = await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: 'TEE-M', locationId: 'dc-2', quantity: 10, reference: 'PO-7' } });
    expect(r1.status).to.equal(201);
    expect(r1.body).to.include({ onHand: 10, reserved: 0, available: 10 });
    await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: 'TEE-M', locationId: 'store-2', quantity: 3 } });
    const adj = await h.call('POST', '/inventory/adjustments', { key: KEYS.operator, body: { sku: 'TEE-M', locationId: 'dc-2', delta: -4, reason: 'damaged' } });
    expect(adj.status).to.equal(201);
    expect(adj.body).to.include({ onHand: 6 });
    const refused = await h.call('POST', '/inventory/adjustments', { key: KEYS.operator, body: { sku: 'TEE-M', locationId: 'dc-2', delta: -7, reason: 'lost' } });
    expect(refused.status).to.equal(409);

    const stock = await h.call('GET', `/inventory/TEE-M?minPosition=${adj.body.position}`, { key: KEYS.analyst });
    expect(stock.status).to.equal(200);
    expect(stock.body.totals).to.deep.equal({ onHand: 9, reserved: 0, available: 9, inTransit: 0 });
    expect(stock.body.locations.map((l: { locationId: string; onHand: number }) => [l.locationId, l.onHand])).to.deep.equal([['dc-2', 6], ['store-2', 3]]);
  });

  it('shows units in transit where they are going, even where the SKU has never been, until they arrive', async () => {
    await h.call('PUT', '/locations/dc-3', { key: KEYS.operator, body: wh });
    await h.call('PUT', '/locations/store-3', { key: KEYS.operator, body: { ...wh, type: 'store', canPickup: true } });
    await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: 'TEE-L', locationId: 'dc-3', quantity: 10 } });
    const sent = await h.call('POST', '/inventory/transfers', { key: KEYS.operator, body: { sku: 'TEE-L', from: 'dc-3', to: 'store-3', quantity: 4 } });
    expect(sent.status).to.equal(201);
    const stock = async (position: number) => (await h.call('GET', `/inventory/TEE-L?minPosition=${position}`, { key: KEYS.analyst })).body;
    const perLocation = (body: { locations: { locationId: string; onHand: number; available: number; inTransit: number }[] }) =>
      body.locations.map((l) => ({ locationId: l.locationId, onHand: l.onHand, available: l.available, inTransit: l.inTransit }));

    const during = await stock(sent.body.position);
    expect(during.totals).to.deep.equal({ onHand: 6, reserved: 0, available: 6, inTransit: 4 });
    expect(perLocation(during)).to.deep.equal([
      { locationId: 'dc-3', onHand: 6, available: 6, inTransit: 0 },
      { locationId: 'store-3', onHand: 0, available: 0, inTransit: 4 },
    ]);

    const received = await h.call('POST', `/inventory/transfers/${sent.body.transferId}/receive?minPosition=${sent.body.position}`, { key: KEYS.operator });
    expect(received.status).to.equal(200);
    const after = await stock(received.body.position);
    expect(after.totals).to.deep.equal({ onHand: 10, reserved: 0, available: 10, inTransit: 0 });
    expect(perLocation(after)).to.deep.equal([
      { locationId: 'dc-3', onHand: 6, available: 6, inTransit: 0 },
      { locationId: 'store-3', onHand: 4, available: 4, inTransit: 0 },
    ]);
  });

  it('answers when a transfer was received: the time of its arrival the first time, the same time on a repeat', async () => {
    await h.call('PUT', '/locations/dc-4', { key: KEYS.operator, body: wh });
    await h.call('PUT', '/locations/store-4', { key: KEYS.operator, body: { ...wh, type: 'store', canPickup: true } });
    await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: 'TEE-XL', locationId: 'dc-4', quantity: 5 } });
    const sent = await h.call('POST', '/inventory/transfers', { key: KEYS.operator, body: { sku: 'TEE-XL', from: 'dc-4', to: 'store-4', quantity: 2 } });
    const receive = () => h.call('POST', `/inventory/transfers/${sent.body.transferId}/receive?minPosition=${sent.body.position}`, { key: KEYS.operator });
    const first = await receive();
    expect(first.status).to.equal(200);
    expect(first.body).to.include({ transferId: sent.body.transferId, status: 'received' });
    expect(Date.parse(first.body.receivedAt)).to.be.closeTo(Date.now(), 10_000);
    const again = await receive();
    expect(again.status).to.equal(200);
    expect(again.body).to.include({ status: 'received', receivedAt: first.body.receivedAt });
  });

  it('keeps counting past 2^31 units, in the ledger and the read model alike', async () => {
    let last = 0;
    for (let i = 0; i < 3; i++) {
      last = (await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: 'BULK', locationId: 'dc-1', quantity: 1_000_000_000 } })).body.position;
    }
    const stock = await h.call('GET', `/inventory/BULK?minPosition=${last}`, { key: KEYS.operator });
    expect(stock.body.totals.onHand).to.equal(3_000_000_000);
  });

  it('answers 404 for a SKU with no stock recorded', async () => {
    const res = await h.call('GET', '/inventory/NEVER-SEEN', { key: KEYS.operator });
    expect(res.status).to.equal(404);
  });

  it('does not let a client read inventory', async () => {
    expect((await h.call('GET', '/inventory/TEE-M', { key: KEYS.client })).status).to.equal(403);
  });
});

describe('health and metrics', function () {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.stop(); });

  it('reports every dependency ok without a key', async () => {
    const res = await h.call('GET', '/health', { key: null });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ status: 'ok', eventStore: 'postgres', checks: { eventStore: 'ok', readModels: 'ok', queue: 'ok' } });
  });

  it('serves Prometheus metrics without a key', async () => {
    await h.call('GET', '/locations', { key: KEYS.analyst });
    const res = await h.call('GET', '/metrics', { key: null });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/text\/plain/);
    expect(res.body).to.match(/oms_http_request_duration_seconds_count\{method="GET",route="\/locations",status="200"\} \d+/);
  });

  it('serves its OpenAPI document', async () => {
    const res = await h.call('GET', '/openapi.json', { key: null });
    expect(res.status).to.equal(200);
    expect(res.body.paths['/orders'].post.requestBody.content['application/json'].schema.properties.channel).to.be.an('object');
  });
});
