import { expect } from 'chai';
import { EventStoreDbGrpcDouble } from '../event-store/eventstoredb-grpc-double.js';
import { anOrderBody, eventually, KEYS, startHarness, type Harness } from '../support/service-harness.js';

describe('the whole service on EventStoreDB, against the in-process gRPC double (not a real server)', function () {
  this.timeout(30_000);
  let double: EventStoreDbGrpcDouble;
  let h: Harness;
  before(async () => {
    double = await EventStoreDbGrpcDouble.start();
    h = await startHarness({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: double.connectionString });
  });
  after(async () => { await h.stop(); await double.stop(); });

  it('places, de-duplicates, scores and cancels an order', async () => {
    const body = anOrderBody();
    const placed = await h.call('POST', '/orders', { key: KEYS.client, body });
    expect(placed.status).to.equal(201);
    const again = await h.call('POST', '/orders', { key: KEYS.client, body });
    expect(again.status).to.equal(200);
    expect(again.body).to.include({ orderId: placed.body.orderId, duplicate: true });
    const scored = await eventually(async () => {
      const r = await h.call('GET', `/orders/${placed.body.orderId}?minPosition=${placed.body.position}`, { key: KEYS.client });
      return r.body.fraud ? r.body : undefined;
    });
    expect(scored.fraud.decision).to.equal('approve');
    const cancelled = await h.call('POST', `/orders/${placed.body.orderId}/cancel`, { key: KEYS.client, body: { reason: 'no longer needed' } });
    expect(cancelled.status).to.equal(200);
    const read = await h.call('GET', `/orders/${placed.body.orderId}?minPosition=${cancelled.body.position}`, { key: KEYS.client });
    expect(read.body.status).to.equal('cancelled');
  });

  it('reports eventstoredb in its health', async () => {
    const res = await h.call('GET', '/health', { key: null });
    expect(res.status).to.equal(200);
    expect(res.body.eventStore).to.equal('eventstoredb');
  });
});

describe('an API process whose queue is unreachable', function () {
  let h: Harness;
  before(async () => { h = await startHarness({ OMS_ROLES: 'api', REDIS_URL: 'redis://127.0.0.1:1' }); });
  after(async () => { await h.stop(); });

  it('reports itself degraded with 503 and names the dependency', async () => {
    const res = await h.call('GET', '/health', { key: null });
    expect(res.status).to.equal(503);
    expect(res.body).to.deep.equal({ status: 'degraded', eventStore: 'postgres', checks: { eventStore: 'ok', readModels: 'ok', queue: 'down' } });
  });

  it('still takes orders: jobs are enqueued from the log later, not beside the append', async () => {
    const res = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody() });
    expect(res.status).to.equal(201);
  });
});
