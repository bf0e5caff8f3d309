import { expect } from 'chai';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { anOrderBody, KEYS, startHarness, type Harness } from '../support/service-harness.js';
import { TEST_REDIS_URL } from '../support/test-env.js';

describe('bad input', function () {
  let h: Harness;
  let redis: Redis;
  before(async () => {
    h = await startHarness();
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    await h.call('PUT', '/locations/wh-1', { key: KEYS.operator, body: { name: 'WH', type: 'warehouse', geo: { lat: 0, lon: 0 }, canShip: true, canPickup: false } });
    for (let i = 0; i < 1000; i++) {
      const r = await h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: 'BIG', locationId: 'wh-1', quantity: 1_000_000_000 } });
      if (r.status !== 201) throw new Error(`receipt ${i}: ${r.status}`);
    }
  });
  after(async () => { redis.disconnect(); await h.stop(); });

  /** Everything a rejected request could have written: events, idempotency keys, jobs. */
  async function footprint() {
    const queue = new Queue('fraud-scoring', { connection: redis, prefix: h.queuePrefix });
    const counts = await queue.getJobCounts();
    await queue.close();
    const keys = await h.service.knex('idempotency_keys').count<{ count: string }[]>('* as count');
    return { head: await h.service.store.headPosition(), jobs: Object.values(counts).reduce((a, b) => a + b, 0), keys: Number(keys[0].count) };
  }

  const cases: { name: string; status: number; code?: RegExp; send: () => Promise<{ status: number; body: any; headers: Headers }> }[] = [
    { name: 'malformed JSON', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, raw: '{"channel": "web",' }) },
    { name: 'a JSON array instead of an object', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, raw: '[]' }) },
    { name: 'a JSON string', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, raw: '"hello"' }) },
    { name: 'an empty body', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, raw: '' }) },
    { name: 'wrong types', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ lines: [{ sku: 'A', quantity: '2', unitPrice: 1.5 }] }) }) },
    { name: 'an unknown field', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ coupon: 'FREE' }) }) },
    { name: 'an unknown nested field', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ payment: { method: 'card', token: 'tok_ok', cvv: '123' } }) }) },
    { name: 'a bad delivery method', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ delivery: { method: 'teleport' } }) }) },
    { name: 'no lines', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ lines: [] }) }) },
    { name: 'a negative quantity', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ lines: [{ sku: 'A', quantity: -1, unitPrice: 1 }] }) }) },
    { name: 'a bad id', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ externalId: 'has spaces' }) }) },
    { name: 'a missing API key', status: 401, send: () => h.call('POST', '/orders', { key: null, body: anOrderBody() }) },
    { name: 'an unknown API key', status: 401, send: () => h.call('POST', '/orders', { key: 'nope', body: anOrderBody() }) },
    { name: 'a role not allowed', status: 403, send: () => h.call('POST', '/orders', { key: KEYS.analyst, body: anOrderBody() }) },
    { name: 'an auditor placing an order', status: 403, send: () => h.call('POST', '/orders', { key: KEYS.auditor, body: anOrderBody() }) },
    { name: 'a client receiving stock', status: 403, send: () => h.call('POST', '/inventory/receipts', { key: KEYS.client, body: { sku: 'A', locationId: 'wh-1', quantity: 1 } }) },
    { name: 'a body over 1 MiB', status: 413, send: () => h.call('POST', '/orders', { key: KEYS.client, raw: JSON.stringify({ ...anOrderBody(), pad: 'x'.repeat(1_100_000) }) }) },
    { name: 'a non-JSON content type', status: 415, send: () => h.call('POST', '/orders', { key: KEYS.client, raw: 'channel=web', headers: { 'content-type': 'application/x-www-form-urlencoded' } }) },
    { name: 'a zero adjustment', status: 400, send: () => h.call('POST', '/inventory/adjustments', { key: KEYS.operator, body: { sku: 'A', locationId: 'wh-1', delta: 0, reason: 'x' } }) },
    { name: 'an adjustment below zero', status: 409, send: () => h.call('POST', '/inventory/adjustments', { key: KEYS.operator, body: { sku: 'A', locationId: 'wh-1', delta: -5, reason: 'x' } }) },
    { name: 'a receipt at an unknown location', status: 404, send: () => h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: 'A', locationId: 'nowhere', quantity: 1 } }) },
    { name: 'a location with a bad id', status: 400, send: () => h.call('PUT', '/locations/bad%20id', { key: KEYS.operator, body: { name: 'x', type: 'store', geo: { lat: 0, lon: 0 }, canShip: true, canPickup: true } }) },
    { name: 'a location out of range', status: 400, send: () => h.call('PUT', '/locations/s-1', { key: KEYS.operator, body: { name: 'x', type: 'store', geo: { lat: 91, lon: 0 }, canShip: true, canPickup: true } }) },
    { name: 'an invalid Idempotency-Key', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody(), headers: { 'idempotency-key': 'x'.repeat(300) } }) },
    { name: 'a NUL character in a string', status: 400, send: () => h.call('POST', '/inventory/receipts', { key: KEYS.operator, body: { sku: 'A', locationId: 'wh-1', quantity: 1, reference: 'bad\u0000ref' } }) },
    { name: 'an unpaired surrogate in a string', status: 400, send: () => h.call('POST', '/inventory/receipts', { key: KEYS.operator, raw: '{"sku":"A","locationId":"wh-1","quantity":1,"reference":"bad\\ud800"}' }) },
    { name: 'a deeply nested body with an Idempotency-Key', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, raw: `{"lines":${'['.repeat(50_000)}${']'.repeat(50_000)}}`, headers: { 'idempotency-key': 'deep-1' } }) },
    { name: 'a corrupt gzip body', status: 400, send: () => h.call('POST', '/orders', { key: KEYS.client, raw: 'definitely not gzip', headers: { 'content-encoding': 'gzip' } }) },
    { name: 'a path in other letter case', status: 404, send: () => h.call('POST', '/Orders', { key: KEYS.client, body: anOrderBody() }) },
    { name: 'a path with a trailing slash', status: 404, send: () => h.call('POST', '/orders/', { key: KEYS.client, body: anOrderBody() }) },
    { name: 'a quantity beyond what a ledger holds', status: 409, send: () => h.call('POST', '/inventory/adjustments', { key: KEYS.operator, body: { sku: 'BIG', locationId: 'wh-1', delta: 1_000_000_000, reason: 'x' } }) },
    { name: 'an unknown route', status: 404, send: () => h.call('POST', '/nothing-here', { key: KEYS.admin, body: {} }) },
    { name: 'a method a route does not serve', status: 405, send: () => h.call('DELETE', '/orders', { key: KEYS.admin }) },
  ];

  for (const c of cases) {
    it(`answers ${c.status} problem+json for ${c.name} and writes nothing`, async () => {
      const before = await footprint();
      const res = await c.send();
      expect(res.status).to.equal(c.status);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(res.body).to.include({ status: c.status });
      expect(res.body.type).to.be.a('string');
      expect(res.body.title).to.be.a('string');
      expect(res.body.detail).to.be.a('string');
      expect(await footprint()).to.deep.equal(before);
    });
  }

  it('refuses an order without externalId with 400 naming /externalId, and writes nothing', async () => {
    const before = await footprint();
    const { externalId: _externalId, ...body } = anOrderBody();
    const res = await h.call('POST', '/orders', { key: KEYS.client, body });
    expect(res.status).to.equal(400);
    expect(res.body.errors).to.deep.equal([{ path: '/externalId', message: 'is required' }]);
    expect(await footprint()).to.deep.equal(before);
  });

  const location = { name: 'x', type: 'store', geo: { lat: 0, lon: 0 }, canShip: true, canPickup: true };
  const wrongValues: { route: string; key: string; body: unknown; field: string; message: string }[] = [
    { route: 'POST /orders', key: KEYS.client, body: anOrderBody({ channel: 'fax' }), field: '/channel', message: 'must be one of web, mobile, store, marketplace, social' },
    { route: 'POST /orders', key: KEYS.client, body: anOrderBody({ delivery: { method: 'teleport' } }), field: '/delivery/method', message: 'must be one of ship, pickup' },
    { route: 'POST /orders', key: KEYS.client, body: anOrderBody({ delivery: { locationId: 'wh-1' } }), field: '/delivery/method', message: 'is required' },
    { route: 'POST /orders', key: KEYS.client, body: anOrderBody({ delivery: { ...anOrderBody().delivery, speed: 'warp' } }), field: '/delivery/speed', message: 'must be one of standard, express, cheapest' },
    { route: 'POST /orders', key: KEYS.client, body: anOrderBody({ payment: { method: 'iou' } }), field: '/payment/method', message: 'must be one of card, cash_on_delivery, prepaid' },
    { route: 'POST /availability', key: KEYS.client, body: { lines: [{ sku: 'A', quantity: 1 }], delivery: { method: 7 } }, field: '/delivery/method', message: 'must be one of ship, pickup' },
    { route: 'PUT /locations/s-2', key: KEYS.operator, body: { ...location, type: 'shed' }, field: '/type', message: 'must be one of warehouse, store, hub' },
    { route: 'POST /orders/00000000-0000-7000-8000-000000000000/review', key: KEYS.operator, body: { decision: 'maybe' }, field: '/decision', message: 'must be one of approve, reject' },
  ];
  for (const c of wrongValues) {
    it(`answers ${c.route} with one error on ${c.field}: "${c.message}", and writes nothing`, async () => {
      const before = await footprint();
      const [method, path] = c.route.split(' ');
      const res = await h.call(method, path, { key: c.key, body: c.body });
      expect(res.status).to.equal(400);
      expect(res.body.errors).to.deep.equal([{ path: c.field, message: c.message }]);
      expect(await footprint()).to.deep.equal(before);
    });
  }

  it('lists every schema problem with its path', async () => {
    const res = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ currency: 'dollars', lines: [{ sku: 'A', quantity: 0, unitPrice: 1 }], extra: 1 }) });
    expect(res.status).to.equal(400);
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).to.include.members(['/currency', '/lines/0/quantity', '/extra']);
  });
});
