import { expect } from 'chai';
import type { Knex } from 'knex';
import { fillBackorders, type BackorderDeps } from '../../jobs/backorders.job.js';
import type { CommandMetadata } from '../../write-side/decider.js';
import type { Allocator } from '../../write-side/sourcing/allocator.js';
import { createLogger } from '../../platform/logger.js';
import { ordersProjection } from '../../projections/orders.projection.js';
import { ProjectionRunner } from '../../projections/projection-runner.js';
import { eventually } from '../support/service-harness.js';
import { meta } from '../support/given-when-then.js';
import { aJob, jobWorld } from '../support/job-world.js';
import { readModelWorld } from '../support/world.js';
import { failure } from '../support/failure.js';

type Allocation = { orderId: string; metadata: CommandMetadata; options: Parameters<Allocator['allocate']>[2] };

describe('backorder job', () => {
  let knex: Knex;
  let cleanup: () => Promise<void>;
  let world: ReturnType<typeof jobWorld>;
  let runner: ProjectionRunner;
  let tried: Allocation[];
  let deps: BackorderDeps;
  beforeEach(async () => {
    ({ knex, cleanup } = await readModelWorld());
    world = jobWorld();
    runner = new ProjectionRunner(world.store, knex, ordersProjection, createLogger('silent'));
    tried = [];
    const allocator = {
      async allocate(orderId: string, metadata: CommandMetadata, options: Allocation['options']) {
        tried.push({ orderId, metadata, options });
        return 'backordered' as const;
      },
    };
    deps = { allocator: allocator as unknown as Allocator, knex, now: () => new Date('2026-11-26T11:00:00.000Z'), readModelWaitMs: 200 };
  });
  afterEach(async () => { await runner.stop(); await cleanup(); });

  const backordered = async (sku: string) => {
    const orderId = await world.placeOrder({ lines: [{ sku, quantity: 3, unitPrice: 100 }] });
    await world.write.recordBackorder({ orderId, missing: [{ sku, quantity: 3 }], why: 'no stock', candidates: [] }, meta());
    return orderId;
  };
  /** The stock event a backorder job is made of: units of the SKU received. */
  const received = async (sku: string) => {
    await world.write.onLedger({ type: 'ReceiveStock', data: { sku, locationId: 'wh-1', quantity: 10 }, metadata: meta() });
    const [e] = (await world.store.readAll({ after: (await world.store.headPosition()) - 1 }));
    return aJob('StockReceived', { sku, eventId: e.id, position: e.position });
  };
  const readModelReached = (position: number) => eventually(async () => (runner.position >= position ? true : undefined));

  it('with an order just backordered, tries that order once more, as a backorder', async () => {
    const orderId = await backordered('SKU-1');
    const job = aJob('OrderBackordered', await world.eventOf(orderId, 'OrderBackordered'));
    await fillBackorders(job, deps);
    expect(tried.map((t) => [t.orderId, t.options])).to.deep.equal([[orderId, { fromBackorder: true, afterCrash: false }]]);
    expect(tried[0].metadata).to.deep.include({ now: '2026-11-26T11:00:00.000Z', correlationId: orderId, causationId: job.data.eventId, actor: { kind: 'job', id: `backorders/${job.id}` } });
  });

  it('after a run that failed or stalled, has the allocator release what that run may have left reserved', async () => {
    const orderId = await backordered('SKU-1');
    const data = await world.eventOf(orderId, 'OrderBackordered');
    await fillBackorders(aJob('OrderBackordered', data, { made: 1 }), deps);
    await fillBackorders(aJob('OrderBackordered', data, { made: 0, started: 2 }), deps);
    expect(tried.map((t) => t.options)).to.deep.equal([{ fromBackorder: true, afterCrash: true }, { fromBackorder: true, afterCrash: true }]);
  });

  it('with stock of a SKU, tries the open orders backordered for it, oldest first', async () => {
    const first = await backordered('SKU-1');
    await backordered('SKU-2');
    const cancelled = await backordered('SKU-1');
    await world.write.cancelOrder(cancelled, 'changed my mind', meta());
    const allocated = await world.placeOrder({ lines: [{ sku: 'SKU-1', quantity: 1, unitPrice: 100 }] });
    await world.write.recordAllocation({ orderId: allocated, allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 1 }] }], transfers: [], cost: 1, why: 'test', candidates: [] }, meta());
    const last = await backordered('SKU-1');
    const job = await received('SKU-1');
    await runner.start();
    await readModelReached(job.data.position);
    await fillBackorders(job, deps);
    expect(tried.map((t) => t.orderId)).to.deep.equal([first, last]);
    expect(tried.map((t) => t.options)).to.deep.equal([{ fromBackorder: true, afterCrash: false }, { fromBackorder: true, afterCrash: false }]);
    expect(tried.map((t) => t.metadata.correlationId)).to.deep.equal([first, last]);
  });

  it('with stock of a SKU, tries an allocated order whose given-back lines wait for it, until they are filled', async () => {
    const orderId = await world.placeOrder({ lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 100 }] });
    const at = [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }];
    await world.write.recordAllocation({ orderId, allocations: at, transfers: [], cost: 1, why: 'test', candidates: [] }, meta());
    await world.write.recordReallocation({
      orderId, released: at, allocations: [], transfers: [], allocationSeq: 1, cost: 0, why: 'backordered: no stock', candidates: [], cause: 'rejected',
      backordered: [{ sku: 'SKU-1', quantity: 2 }], fulfilmentId: 'f-1', causeEventId: 'e-reject-1',
    }, meta());
    await runner.start();
    const job = await received('SKU-1');
    await readModelReached(job.data.position);
    await fillBackorders(job, deps);
    expect(tried.map((t) => [t.orderId, t.options])).to.deep.equal([[orderId, { fromBackorder: true, afterCrash: false }]]);

    await world.write.recordReallocation({
      orderId, released: [], allocations: [{ locationId: 'wh-2', lines: [{ sku: 'SKU-1', quantity: 2 }] }], transfers: [], allocationSeq: 2, cost: 1, why: 'wh-2', candidates: [],
      cause: 'backorder', backordered: [],
    }, meta());
    const again = await received('SKU-1');
    await readModelReached(again.data.position);
    await fillBackorders(again, deps);
    expect(tried).to.have.length(1);
  });

  it('waits for the orders read model to reach the stock\'s event, so an order backordered just before is not missed', async () => {
    const orderId = await backordered('SKU-1');
    const job = await received('SKU-1');
    const run = fillBackorders(job, { ...deps, readModelWaitMs: 5_000 });
    await runner.start();
    await run;
    expect(tried.map((t) => t.orderId)).to.deep.equal([orderId]);
  });

  it('fails the run, to be retried, when the read model does not reach the stock\'s event in time, trying nothing', async () => {
    await backordered('SKU-1');
    const job = await received('SKU-1');
    expect(((await failure(fillBackorders(job, deps))) as Error).message).to.contain('read model is behind');
    expect(tried).to.deep.equal([]);
  });
});
