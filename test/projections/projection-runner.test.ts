import { expect } from 'chai';
import type { Knex } from 'knex';
import { createLogger } from '../../platform/logger.js';
import { ProjectionRunner } from '../../projections/projection-runner.js';
import { checkpointOf } from '../../read-side/positions.js';
import { UnappliableEvent, type Projection } from '../../projections/projection.js';
import type { RecordedEvent } from '../../event-store/event-store.port.js';
import { PROJECTIONS } from '../../service.js';
import { eventStoreWorld, readModelWorld, writeHistory } from '../support/world.js';

const log = createLogger('silent');
const TABLES = ['locations', 'stock_levels', 'orders', 'order_timeline'];

async function snapshot(knex: Knex): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t] = (await knex(t).select()).map((r) => JSON.stringify(r)).sort();
  return out;
}

async function runToEnd(runners: ProjectionRunner[], head: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (runners.some((r) => r.position < head)) {
    if (Date.now() > deadline) throw new Error('projections did not reach the head');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('projection runner', function () {
  this.timeout(60_000);
  let world: Awaited<ReturnType<typeof eventStoreWorld>>;
  let head: number;
  let reference: Awaited<ReturnType<typeof readModelWorld>>;
  let expected: Record<string, unknown[]>;

  before(async () => {
    world = await eventStoreWorld();
    await writeHistory(world.write, 120);
    head = await world.store.headPosition();
    reference = await readModelWorld();
    const runners = PROJECTIONS.map((p) => new ProjectionRunner(world.store, reference.knex, p, log));
    for (const r of runners) await r.start();
    await runToEnd(runners, head);
    for (const r of runners) await r.stop();
    expected = await snapshot(reference.knex);
  });
  after(async () => { await reference.cleanup(); await world.cleanup(); });

  it('builds the read models a fold of the log describes', () => {
    expect(expected.orders).to.have.length(120);
    expect(expected.locations).to.have.length(2);
    const cancelled = expected.orders.filter((r) => JSON.parse(r as string).status === 'cancelled');
    expect(cancelled).to.have.length(30);
  });

  it('applies again what the database lost of its last commits (asynchronous commit, a crash), and ends with the same rows', async () => {
    const rm = await readModelWorld();
    try {
      const all = await world.store.readAll({ maxCount: 100_000 });
      const orders = new ProjectionRunner(world.store, rm.knex, PROJECTIONS.find((p) => p.name === 'orders')!, log);
      await rm.knex('projection_checkpoints').insert({ name: 'orders', position: 0 });
      // Batches in log order, as the subscription delivers them; a crash loses the model's commits
      // after `cut` (rows and checkpoint together) while the runner holds on to the position it reached.
      const feed = async (from: number, to: number) => { for (let i = from; i < to; i += 25) await orders.applyBatch(all.slice(i, Math.min(i + 25, to))); };
      const crash = async (cut: number) => {
        await rm.knex('order_timeline').where('position', '>', cut).delete();
        await rm.knex('orders').where('placed_position', '>', cut).delete();
        await rm.knex('projection_checkpoints').where({ name: 'orders' }).update({ position: cut });
      };
      const half = Math.floor(all.length / 2);
      await feed(0, half);
      await crash(all[half - 60].position);
      await feed(half, half + 25);                                      // a batch with order events in it
      // Then a crash followed by a batch with nothing for the orders model (two stock movements).
      const quiet = all.findIndex((e, i) => i > half + 100 && e.type.startsWith('Stock') && all[i + 1]?.type.startsWith('Stock'));
      await feed(half + 25, quiet);
      await crash(all[quiet - 40].position);
      await orders.applyBatch(all.slice(quiet, quiet + 2));
      await feed(quiet + 2, all.length);
      const rows = await snapshot(rm.knex);
      expect(rows.orders).to.deep.equal(expected.orders);
      expect(rows.order_timeline).to.deep.equal(expected.order_timeline);
    } finally {
      await rm.cleanup();
    }
  });

  it('ends with the same rows when stopped and restarted mid-stream', async () => {
    const rm = await readModelWorld();
    try {
      const first = PROJECTIONS.map((p) => new ProjectionRunner(world.store, rm.knex, p, log, { batchSize: 7 }));
      for (const r of first) await r.start();
      await runToEnd(first, Math.floor(head / 2));
      for (const r of first) await r.stop();
      const stoppedAt = await checkpointOf(rm.knex, 'orders');
      expect(stoppedAt).to.be.above(0).and.below(head);

      const second = PROJECTIONS.map((p) => new ProjectionRunner(world.store, rm.knex, p, log, { batchSize: 7 }));
      for (const r of second) await r.start();
      await runToEnd(second, head);
      for (const r of second) await r.stop();
      expect(await snapshot(rm.knex)).to.deep.equal(expected);
    } finally {
      await rm.cleanup();
    }
  });

  it('ends with the same rows when its connection dies in the middle of a batch', async () => {
    const rm = await readModelWorld();
    let killed = 0;
    const crashing = (p: Projection): Projection => {
      const killOnce = async (events: RecordedEvent[], trx: Knex.Transaction) => {
        if (p.name === 'orders' && killed === 0 && events.some((e) => e.position > head / 3)) {
          killed++;
          await trx.raw('SELECT pg_terminate_backend(pg_backend_pid())').catch(() => undefined);
        }
      };
      return {
        ...p,
        async apply(event, trx) { await p.apply(event, trx); await killOnce([event], trx); },
        async applyBatch(events, trx) {
          if (p.applyBatch) await p.applyBatch(events, trx);
          else for (const e of events) await p.apply(e, trx);
          await killOnce(events, trx);
        },
      };
    };
    try {
      const runners = PROJECTIONS.map((p) => new ProjectionRunner(world.store, rm.knex, crashing(p), log, { batchSize: 25 }));
      for (const r of runners) await r.start();
      await runToEnd(runners, head);
      for (const r of runners) await r.stop();
      expect(killed).to.equal(1);
      expect(await snapshot(rm.knex)).to.deep.equal(expected);
      expect(await rm.knex('projection_failures').count('* as n').first()).to.deep.equal({ n: 0 });
    } finally {
      await rm.cleanup();
    }
  });

  it('never applies an event twice when two runners of one projection race', async () => {
    const rm = await readModelWorld();
    try {
      const runners = [1, 2].flatMap(() => PROJECTIONS.map((p) => new ProjectionRunner(world.store, rm.knex, p, log, { batchSize: 9 })));
      for (const r of runners) await r.start();
      await runToEnd(runners, head);
      for (const r of runners) await r.stop();
      expect(await snapshot(rm.knex)).to.deep.equal(expected);
    } finally {
      await rm.cleanup();
    }
  });

  it('records an event it cannot apply and moves on', async () => {
    const rm = await readModelWorld();
    try {
      const picky: Projection = {
        name: 'picky', handles: ['OrderPlaced'],
        async apply(event, trx) {
          if ((event.data as { externalId: string }).externalId === 'EXT-3') throw new UnappliableEvent('cannot apply this one');
          await trx('order_timeline').insert({ order_id: event.id, position: event.position, at: new Date(), type: event.type, details: {} });
        },
      };
      const runner = new ProjectionRunner(world.store, rm.knex, picky, log);
      await runner.start();
      await runToEnd([runner], head);
      await runner.stop();
      const failures = await rm.knex('projection_failures').select('projection', 'event_type', 'error');
      expect(failures).to.deep.equal([{ projection: 'picky', event_type: 'OrderPlaced', error: 'cannot apply this one' }]);
      expect(await rm.knex('order_timeline').count('* as n').first()).to.deep.equal({ n: 119 });
    } finally {
      await rm.cleanup();
    }
  });
});
