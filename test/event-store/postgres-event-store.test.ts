import { expect } from 'chai';
import { v7 as uuid } from 'uuid';
import { createPgPool } from '../../platform/db.js';
import { PostgresEventStore, openPostgresEventStore } from '../../event-store/postgres/postgres-event-store.js';
import type { RecordedEvent } from '../../event-store/event-store.port.js';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import { isolatedSchema } from '../support/test-env.js';
import { eventStoreContract } from './event-store.contract.js';

async function openPostgres(poolSize = 10) {
  const db = await isolatedSchema('es', poolSize);
  const { store, pool, close } = await openPostgresEventStore(db);
  return { db, pool, store, async cleanup() { await close(); await db.drop(); } };
}

eventStoreContract('PostgreSQL', openPostgres);

describe('PostgreSQL event store', () => {
  it('reads many streams asked for at once in one statement, each caller its own stream from its own revision', async () => {
    const { store, pool, cleanup } = await openPostgres();
    try {
      for (let i = 0; i < 20; i++) {
        await store.append(`read-${i}`, Array.from({ length: 1 + (i % 4) }, (_, n) => ({ id: uuid(), type: 'R', data: { i, n }, metadata: {} })), 'no_stream');
      }
      let statements = 0;
      const query = pool.query.bind(pool);
      (pool as unknown as { query: unknown }).query = (...args: Parameters<typeof pool.query>) => { statements++; return query(...args); };
      const asked = Array.from({ length: 20 }, (_, i) => ({ streamId: i === 19 ? 'read-none' : `read-${i}`, fromRevision: i % 2 }));
      const read = await Promise.all(asked.map((a) => store.readStream(a.streamId, { fromRevision: a.fromRevision })));
      expect(statements).to.equal(1);
      read.forEach((events, k) => {
        const i = k;
        if (asked[k].streamId === 'read-none') return expect(events).to.deep.equal([]);
        const all = 1 + (i % 4);
        expect(events.map((e) => [e.streamId, e.revision, (e.data as { n: number }).n])).to.deep.equal(
          Array.from({ length: all - asked[k].fromRevision }, (_, n) => [`read-${i}`, n + asked[k].fromRevision, n + asked[k].fromRevision]));
      });
    } finally {
      await cleanup();
    }
  });

  it('never lets a subscriber skip an event when separate processes append concurrently', async () => {
    const main = await openPostgres();
    // Independent writers with their own pools stand in for several API processes.
    const writers = Array.from({ length: 6 }, () => new PostgresEventStore(createPgPool({ ...main.db, poolSize: 4 }), main.db));
    const seen: RecordedEvent[] = [];
    const sub = main.store.subscribe({ after: 0, batchSize: 3, onEvents: async (b) => { seen.push(...b); } });
    try {
      await Promise.all(writers.flatMap((w, wi) => Array.from({ length: 50 }, (_, i) =>
        w.append(`writer-${wi}-${i}`, [{ id: uuid(), type: 'W', data: {}, metadata: {} }], 'no_stream'))));
      const all = await main.store.readAll({ after: 0, maxCount: 10_000 });
      expect(all).to.have.length(300);
      const deadline = Date.now() + 10_000;
      while (seen.length < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(seen.map((e) => e.id)).to.deep.equal(all.map((e) => e.id));
    } finally {
      await sub.stop();
      for (const w of writers) await w.close();
      await main.cleanup();
    }
  });

  it('sends what callers append in reply to a batch with the next one, not a round trip later', async () => {
    const { store, pool, cleanup } = await openPostgres();
    try {
      const batches: number[] = [];
      const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<unknown>;
      pool.query = ((text: string, values?: unknown[]) => {
        if (text.includes('oms_append_batch')) batches.push(JSON.parse(String(values![0])).length);
        return query(text, values);
      }) as unknown as typeof pool.query;
      const one = () => [{ id: uuid(), type: 'A', data: {}, metadata: {} }];
      const first = store.append('s-a', one(), 'no_stream');
      const replies = first.then(() => Promise.all([store.append('s-b', one(), 'no_stream'), store.append('s-c', one(), 'no_stream')]));
      await new Promise((resolve) => setImmediate(resolve));          // the first batch is on its way
      const meanwhile = store.append('s-d', one(), 'no_stream');
      await Promise.all([replies, meanwhile]);
      expect(batches).to.deep.equal([1, 3]);
    } finally {
      await cleanup();
    }
  });

  it('refuses event ids already used in another stream without failing the appends batched with it', async () => {
    const { store, cleanup } = await openPostgres();
    try {
      const reused = { id: uuid(), type: 'A', data: {}, metadata: {} };
      await store.append('first-stream', [reused], 'no_stream');
      const [clash, ...others] = await Promise.allSettled([
        store.append('second-stream', [reused], 'no_stream'),
        ...Array.from({ length: 10 }, (_, i) => store.append(`bystander-${i}`, [{ id: uuid(), type: 'B', data: {}, metadata: {} }], 'no_stream')),
      ]);
      expect(clash.status).to.equal('rejected');
      expect((clash as PromiseRejectedResult).reason).to.be.instanceOf(ConflictError);
      expect(others.every((o) => o.status === 'fulfilled')).to.equal(true);
      expect(await store.readStream('second-stream')).to.deep.equal([]);
    } finally {
      await cleanup();
    }
  });

  it('refuses data PostgreSQL cannot store with a 400 error, without failing the appends batched with it', async () => {
    const { store, cleanup } = await openPostgres();
    try {
      const [bad, ...others] = await Promise.allSettled([
        store.append('bad-data', [{ id: uuid(), type: 'A', data: { text: 'nul\u0000here' }, metadata: {} }], 'no_stream'),
        ...Array.from({ length: 10 }, (_, i) => store.append(`fine-${i}`, [{ id: uuid(), type: 'B', data: {}, metadata: {} }], 'no_stream')),
      ]);
      expect(bad.status).to.equal('rejected');
      expect((bad as PromiseRejectedResult).reason).to.be.instanceOf(ValidationError);
      expect(others.every((o) => o.status === 'fulfilled')).to.equal(true);
    } finally {
      await cleanup();
    }
  });

  it('treats a retried append that already committed, with a current expected revision, as a replay', async () => {
    const { store, cleanup } = await openPostgres();
    try {
      const events = [{ id: uuid(), type: 'A', data: {}, metadata: {} }];
      const first = await store.append('replayed', events, 'no_stream');
      // The writer reloaded the stream and decided again with the same ids: the revision now matches.
      expect(await store.append('replayed', events, 0)).to.deep.equal(first);
      expect(await store.readStream('replayed')).to.have.length(1);
    } finally {
      await cleanup();
    }
  });

  it('refuses to alter or delete a recorded event', async () => {
    const { pool, store, cleanup } = await openPostgres();
    try {
      await store.append('immutable-1', [{ id: uuid(), type: 'A', data: { v: 1 }, metadata: {} }], 'no_stream');
      let updateError: unknown;
      await pool.query(`UPDATE events SET data = '{"v":2}'`).catch((e) => { updateError = e; });
      expect(String(updateError)).to.match(/immutable/);
      let deleteError: unknown;
      await pool.query('DELETE FROM events').catch((e) => { deleteError = e; });
      expect(String(deleteError)).to.match(/immutable/);
      expect((await store.readStream('immutable-1'))[0].data).to.deep.equal({ v: 1 });
    } finally {
      await cleanup();
    }
  });
});
