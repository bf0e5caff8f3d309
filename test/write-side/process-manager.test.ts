import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RecordedEvent } from '../../event-store/event-store.port.js';
import { createLogger } from '../../platform/logger.js';
import { ProcessManagerRunner, type ProcessManager, type ProcessManagerOptions } from '../../write-side/process-manager.js';
import { eventually } from '../support/service-harness.js';
import { uniqueName } from '../support/test-env.js';
import { eventStoreWorld, readModelWorld } from '../support/world.js';

const log = createLogger('silent');
const NAME = 'ticks';

type Tick = { key: string; n: number };
interface Reaction { by: string; id: string; position: number; key: string; n: number; afterCrash: boolean }

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('a process manager run on the log', function () {
  this.timeout(60_000);
  let world: Awaited<ReturnType<typeof eventStoreWorld>>;
  let rm: Awaited<ReturnType<typeof readModelWorld>>;
  /** Positions of every event appended, in log order. */
  let positions: number[];
  /** Handled events appended, in log order. */
  let ticks: { id: string; position: number; key: string; n: number }[];
  let reactions: Reaction[];
  /** The application_name of the runners' sessions. */
  let sessionName: string;
  const runners: ProcessManagerRunner[] = [];

  beforeEach(async () => {
    world = await eventStoreWorld();
    sessionName = uniqueName('pm');
    rm = await readModelWorld({ name: sessionName });
    positions = [];
    ticks = [];
    reactions = [];
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await rm.cleanup();
    await world.cleanup();
  });

  /** Appends `count` ticks over `keys` keys, numbered per key, with an unhandled event after every `noiseEvery`th. */
  async function appendTicks(count: number, keys: number, noiseEvery = 0): Promise<void> {
    for (let c = 0; c < count; c++) {
      const i = ticks.length;
      const key = `k-${i % keys}`;
      const n = ticks.filter((t) => t.key === key).length;
      const id = randomUUID();
      const { position } = await world.store.append(`tick-${key}`, [{ id, type: 'Ticked', data: { key, n }, metadata: {} }], 'any');
      positions.push(position);
      ticks.push({ id, position, key, n });
      if (noiseEvery && i % noiseEvery === noiseEvery - 1) {
        positions.push((await world.store.append('noise', [{ id: randomUUID(), type: 'Ignored', data: { key }, metadata: {} }], 'any')).position);
      }
    }
  }

  function runner(by: string, react: (e: RecordedEvent, context: { afterCrash: boolean; signal: AbortSignal }) => Promise<void>, options: ProcessManagerOptions = {}): ProcessManagerRunner {
    const manager: ProcessManager = {
      name: NAME,
      handles: ['Ticked'],
      keyOf: (e) => (e.data as Tick).key,
      async react(e, context) {
        await react(e, context);
        const { key, n } = e.data as Tick;
        reactions.push({ by, id: e.id, position: e.position, key, n, afterCrash: context.afterCrash });
      },
    };
    const r = new ProcessManagerRunner(world.store, rm.knex, manager, log, options);
    runners.push(r);
    return r;
  }

  const reactedTo = () => new Set(reactions.map((r) => r.id)).size;
  const allReacted = () => eventually(async () => (reactedTo() === ticks.length ? true : undefined), 20_000);
  const timesEach = () => {
    const times = new Map<string, number>();
    for (const r of reactions) times.set(r.id, (times.get(r.id) ?? 0) + 1);
    return ticks.map((t) => times.get(t.id) ?? 0);
  };
  const checkpoint = async () => rm.knex('dispatcher_checkpoints').where({ name: NAME }).first('position', 'lease_until', 'updated_at');
  const holder = async (): Promise<number | undefined> => (await rm.knex.raw(`
    SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
       AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(current_schema() || '/process/${NAME}', 0)`)).rows[0]?.pid;
  /** A session of the runners asking for the turn without holding it. */
  const standby = async (): Promise<number | undefined> => (await rm.knex.raw(`
    SELECT pid FROM pg_stat_activity WHERE application_name = ? AND query LIKE 'SELECT pg_try_advisory_lock%'
       AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)`, [sessionName])).rows[0]?.pid;
  const terminate = (pid: number) => rm.knex.raw('SELECT pg_terminate_backend(?)', [pid]);
  /** Appends a tick every few milliseconds until the returned function is called. */
  function keepAppending(keys: number): () => Promise<void> {
    let on = true;
    const appending = (async () => { while (on) { await appendTicks(1, keys); await delay(5); } })();
    return async () => { on = false; await appending; };
  }

  it('reacts to every handled event once across a stop and a start, and to nothing else', async () => {
    await appendTicks(120, 12, 10);
    const first = runner('first', () => delay(10), { concurrency: 2, batchSize: 7 });
    await first.start();
    await eventually(async () => (reactions.length >= 10 ? true : undefined));
    await first.stop();
    expect(reactions.length, 'the first run reacted to some events, not all').to.be.within(10, ticks.length - 1);

    const second = runner('second', () => delay(1), { batchSize: 7 });
    await second.start();
    await allReacted();
    await second.stop();
    expect(timesEach().every((n) => n === 1), 'each event reacted to once').to.equal(true);
    expect(reactions.some((r) => r.afterCrash), 'a clean stop leaves nothing interrupted').to.equal(false);
    const row = await checkpoint();
    expect(row.position).to.equal(positions[positions.length - 1]);
    expect(row.lease_until, 'a clean stop clears the lease').to.equal(null);
  });

  it('reacts to the events of one key one at a time, in log order, and to different keys at once', async () => {
    await appendTicks(200, 5);
    const active = new Set<string>();
    let overlapped = 0;
    let most = 0;
    const p = runner('p', async (e) => {
      const { key } = e.data as Tick;
      if (active.has(key)) overlapped++;
      active.add(key);
      most = Math.max(most, active.size);
      await delay(Math.random() * 3);
      active.delete(key);
    }, { concurrency: 16 });
    await p.start();
    await allReacted();
    expect(overlapped, 'reactions of one key overlapping').to.equal(0);
    for (let k = 0; k < 5; k++) {
      expect(reactions.filter((r) => r.key === `k-${k}`).map((r) => r.n)).to.deep.equal([...Array(40).keys()]);
    }
    expect(most, 'keys reacted to at once').to.be.above(1);
  });

  it('after a reaction fails, runs none of the same key\'s later reactions in that turn; the next turn replays them in order', async () => {
    await appendTicks(12, 2);
    const tried: string[] = [];
    let failOnce = true;
    const p = runner('p', async (e) => {
      const { key, n } = e.data as Tick;
      // The key's later ticks are already waiting behind this one when it fails.
      if (key === 'k-0' && n === 1 && failOnce) {
        await delay(50);
        failOnce = false;
        tried.push(`${key}/${n} failed`);
        throw new Error('the reaction failed');
      }
      tried.push(`${key}/${n}`);
    }, { concurrency: 64 });
    await p.start();
    await allReacted();
    const k0 = tried.filter((t) => t.startsWith('k-0/'));
    expect(k0, 'reactions of the failing key, in the order they ran').to.deep.equal(['k-0/0', 'k-0/1 failed', 'k-0/1', 'k-0/2', 'k-0/3', 'k-0/4', 'k-0/5']);
    expect(reactions.filter((r) => r.key === 'k-0').map((r) => r.n)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(reactions.filter((r) => r.key === 'k-1').map((r) => r.n).slice(0, 6), 'the other key went on in order').to.deep.equal([0, 1, 2, 3, 4, 5]);
  });

  it('lets only one of two processes side by side react', async () => {
    await appendTicks(100, 10);
    const a = runner('a', () => delay(2), { batchSize: 9 });
    const b = runner('b', () => delay(2), { batchSize: 9 });
    await Promise.all([a.start(), b.start()]);
    await allReacted();
    expect(timesEach().every((n) => n === 1), 'each event reacted to once').to.equal(true);
    expect(new Set(reactions.map((r) => r.by)).size, 'processes that reacted').to.equal(1);
  });

  it('hands the turn to a standby when the holder\'s session is terminated; the standby reacts to the window after a crash', async () => {
    await appendTicks(30, 30);
    const begun: string[] = [];
    const aborted: string[] = [];
    // The holder's reactions never finish before its turn goes stale, and then write nothing.
    const a = runner('a', (e, { signal }) => new Promise<void>((_, reject) => {
      begun.push(e.id);
      signal.addEventListener('abort', () => { aborted.push(e.id); reject(signal.reason); });
    }), { window: 10, leaseMs: 1500 });
    await a.start();
    await eventually(async () => (begun.length === 10 ? true : undefined));
    const started = await eventually(async () => holder());
    const b = runner('b', () => delay(1), { window: 10, leaseMs: 1500 });
    await b.start();
    await terminate(started);
    await allReacted();
    expect(await holder(), 'a new session holds the turn').to.be.a('number').and.not.equal(started);
    expect(new Set(reactions.map((r) => r.by))).to.deep.equal(new Set(['b']));
    expect(timesEach().every((n) => n === 1), 'each event reacted to once').to.equal(true);
    expect(aborted.length, 'reactions of the terminated turn stopped by its signal').to.equal(10);
    const afterCrash = reactions.filter((r) => r.afterCrash).map((r) => r.position).sort((x, y) => x - y);
    expect(afterCrash, 'the window past the checkpoint, after a crash').to.deep.equal(ticks.slice(0, 10).map((t) => t.position));
  });

  it('starts no reaction more than `window` events past the recorded checkpoint', async () => {
    await appendTicks(20, 20, 1);                                    // every tick followed by an unhandled event
    let open!: () => void;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    const ahead: number[] = [];
    const p = runner('p', async (e) => {
      const { position } = await checkpoint();
      ahead.push(positions.filter((q) => q > Number(position) && q <= e.position).length);
      if (e.id === ticks[0].id) await gate;                           // holds the checkpoint below the first event
    }, { window: 5, leaseMs: 1000 });
    await p.start();
    // The first five events past the checkpoint are ticks 0, 1 and 2; wait for those, then for two renewals of the lease.
    await eventually(async () => (ahead.length >= 3 ? true : undefined));
    const renewed = (await checkpoint()).updated_at.getTime();
    await eventually(async () => ((await checkpoint()).updated_at.getTime() > renewed ? true : undefined));
    const again = (await checkpoint()).updated_at.getTime();
    await eventually(async () => ((await checkpoint()).updated_at.getTime() > again ? true : undefined));
    open();
    await allReacted();
    expect(Math.max(...ahead), 'events past the recorded checkpoint when a reaction started').to.equal(5);
  });

  it('stops its reactions at 60% of the lease while renewing it hangs, and reacts again after the crash', async () => {
    await appendTicks(1, 1);
    let abortedAt: number | undefined;
    const p = runner('p', (_, { signal, afterCrash }) => (afterCrash ? delay(1) : new Promise<void>((_, reject) => {
      signal.addEventListener('abort', () => { abortedAt = Date.now(); reject(signal.reason); });
    })), { leaseMs: 1000 });
    await p.start();
    const lock = await rm.knex.transaction();
    try {
      await eventually(async () => ((await checkpoint())?.lease_until ? true : undefined));
      await lock('dispatcher_checkpoints').where({ name: NAME }).forUpdate().first();
      const lockedAt = Date.now();
      await eventually(async () => abortedAt, 8000);
      expect(abortedAt! - lockedAt, 'ms from the last renewal that could be made to the abort').to.be.below(1000);
    } finally {
      await lock.rollback();
    }
    await allReacted();
    expect(reactions.map((r) => r.afterCrash)).to.deep.equal([true]);
  });

  describe('when the turn\'s session is terminated again and again while events flow', () => {
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => { unhandled.push(reason); };
    beforeEach(() => { unhandled.length = 0; process.on('unhandledRejection', note); });
    afterEach(() => { process.off('unhandledRejection', note); });

    it('takes the turn again by itself each time, reacts to every event, again only after a crash, and leaks no session', async () => {
      await appendTicks(20, 5);
      const p = runner('p', () => delay(1), { leaseMs: 600, batchSize: 5 });
      await p.start();
      const stopAppending = keepAppending(5);
      const terminated: number[] = [];
      for (let i = 0; i < 4; i++) {
        const pid = await eventually(async () => { const h = await holder(); return h !== undefined && !terminated.includes(h) ? h : undefined; }, 10_000);
        const before = reactions.length;
        await eventually(async () => (reactions.length > before + 5 ? true : undefined), 10_000);
        await terminate(pid);
        terminated.push(pid);
      }
      await eventually(async () => { const h = await holder(); return h !== undefined && !terminated.includes(h) ? h : undefined; }, 10_000);
      await stopAppending();
      await allReacted();
      await p.stop();
      expect(timesEach().every((n) => n >= 1), 'each event reacted to').to.equal(true);
      const seen = new Set<string>();
      const again = reactions.filter((r) => seen.has(r.id) || (seen.add(r.id), false));
      expect(again.every((r) => r.afterCrash), 'an event reacted to again is in the window after a crash').to.equal(true);
      expect(rm.knex.client.pool.numUsed(), 'sessions still lent out').to.equal(0);
      expect(unhandled).to.deep.equal([]);
    });

    it('a standby whose session is terminated while it waits asks for the turn again, and takes it when the holder stops', async () => {
      await appendTicks(20, 5);
      // Leases long enough that a pause of the loaded machine never ends the holder's turn.
      const a = runner('a', () => delay(1), { leaseMs: 3000 });
      const b = runner('b', () => delay(1), { leaseMs: 3000 });
      await a.start();
      const held = await eventually(holder);
      await b.start();
      const stopAppending = keepAppending(5);
      const terminated: number[] = [];
      for (let i = 0; i < 3; i++) {
        const pid = await eventually(async () => { const s = await standby(); return s !== undefined && !terminated.includes(s) ? s : undefined; }, 10_000);
        await terminate(pid);
        terminated.push(pid);
      }
      await eventually(async () => { const s = await standby(); return s !== undefined && !terminated.includes(s) ? s : undefined; }, 10_000);
      expect(await holder(), 'the holder kept the turn').to.equal(held);
      await a.stop();
      const fromB = reactions.filter((r) => r.by === 'b').length;
      await eventually(async () => (reactions.filter((r) => r.by === 'b').length > fromB ? true : undefined), 10_000);
      await stopAppending();
      await allReacted();
      await b.stop();
      expect(timesEach().every((n) => n === 1), 'each event reacted to once').to.equal(true);
      expect(reactions.some((r) => r.afterCrash), 'a clean hand-over leaves nothing interrupted').to.equal(false);
      expect(rm.knex.client.pool.numUsed(), 'sessions still lent out').to.equal(0);
      expect(unhandled).to.deep.equal([]);
    });
  });
});
