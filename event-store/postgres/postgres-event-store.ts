import DataLoader from 'dataloader';
import pg from 'pg';
import type { Knex } from 'knex';
import { ConcurrencyError, ConflictError, ValidationError } from '../../platform/errors.js';
import { migrate } from '../../platform/migrate.js';
import { createKnex, createPgPool, type DbSettings } from '../../platform/db.js';
import type {
  AppendResult, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, RecordedEvent, SubscribeOptions, Subscription,
} from '../event-store.port.js';
import { eventStoreMigrations } from './event-store.migrations.js';
import { pollingSubscription } from '../subscription.js';
import { ListenNotifyNews } from './listen-notify.js';
import { TailCache } from './tail-cache.js';

interface PendingAppend {
  streamId: string;
  events: NewEvent[];
  expected: ExpectedRevision;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

type BatchResult =
  | { ok: true; revision: number; position: number }
  | { ok: false; error: 'wrong_expected_revision'; actual: number };

const MAX_BATCH = 500;

export async function migratePostgresEventStore(knex: Knex, schema: string): Promise<void> {
  await migrate(knex, 'event_store_migrations', eventStoreMigrations, schema);
}

/** Migrates the schema, then opens a store on a pool of its own; `close` ends both. */
export async function openPostgresEventStore(db: DbSettings, applicationName = 'oms-event-store', onError?: (err: Error) => void) {
  const knex = createKnex(db);
  try {
    await migratePostgresEventStore(knex, db.schema);
  } finally {
    await knex.destroy();
  }
  const pool = createPgPool(db, applicationName, onError);
  const store = new PostgresEventStore(pool, db);
  return { store, pool, async close() { await store.close(); await pool.end(); } };
}

/**
 * PostgreSQL event store. Concurrent appends are committed together (group commit): each keeps
 * its own expected-revision check and its own result, and the batch costs one round trip. One
 * batch is on its way at a time; the next is made once the callers of the last have had their
 * results, so what they append next (a stream's next command, the next step of an order) goes
 * with it rather than waiting a further round trip. Reads of whole streams (or their tails) asked
 * for at the same moment are made in one statement too: a process working many orders at once
 * reads many small streams.
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const;
  private readonly queue: PendingAppend[] = [];
  private scheduled = false;
  private sending = false;
  private readonly news: ListenNotifyNews;
  private readonly tail = new TailCache();
  private readonly tailReads = new Map<string, Promise<RecordedEvent[]>>();
  /** Stream reads asked for in the same turn of the event loop, made in one statement. */
  private readonly streamReads = new DataLoader<{ streamId: string; fromRevision: number }, RecordedEvent[]>(
    (asked) => this.readStreams(asked), { cache: false, maxBatchSize: 200, batchScheduleFn: (run) => setImmediate(run) },
  );

  constructor(private readonly pool: pg.Pool, settings: { databaseUrl: string; schema: string }) {
    this.news = new ListenNotifyNews(settings.databaseUrl, `oms_events_${settings.schema}`);
  }

  append(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) return Promise.reject(new Error('append needs at least one event'));
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, events, expected, resolve, reject });
      this.schedule();
    });
  }

  /** Sends what has gathered once this tick's appends (and the reactions to the last batch) are in. */
  private schedule(): void {
    if (this.scheduled || this.sending) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.sending = true;
      const batch = this.queue.splice(0, MAX_BATCH);
      void this.commit(batch)
        .catch((err) => { for (const p of batch) p.reject(err); })
        .finally(() => {
          this.sending = false;
          if (this.queue.length > 0) this.schedule();
        });
    });
  }

  private async commit(batch: PendingAppend[]): Promise<void> {
    try {
      (await this.appendBatch(batch)).forEach((res, i) => settle(batch[i], res));
    } catch (err) {
      if (!isPerAppendError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // One append's data (an id already used, a value jsonb refuses) spoils the whole
      // statement: run this batch's appends singly so only that one fails.
      for (const one of batch) {
        try {
          if (batch.length === 1) throw err;
          settle(one, (await this.appendBatch([one]))[0]);
        } catch (e) {
          await this.refuse(one, e);
        }
      }
    }
  }

  /**
   * An append that failed on its own. Its event ids may already be in this very stream: a retry
   * of an append whose commit the writer never heard about. That is a replay, not an error.
   */
  private async refuse(p: PendingAppend, err: unknown): Promise<void> {
    if (sqlState(err) === '23505') {
      const found = await this.pool.query<{ n: number; revision: number; position: number }>(
        `SELECT count(*)::int AS n, max(stream_revision) AS revision, max(global_position) AS position
           FROM events WHERE stream_id = $1 AND event_id = ANY($2::uuid[])`,
        [p.streamId, p.events.map((e) => e.id)],
      ).catch(() => undefined);
      const row = found?.rows[0];
      if (row && row.n === p.events.length) return p.resolve({ revision: row.revision, position: row.position });
    }
    p.reject(appendError(p, err));
  }

  private async appendBatch(batch: PendingAppend[]): Promise<BatchResult[]> {
    const payload = batch.map((p) => ({
      stream: p.streamId,
      expected: String(p.expected),
      events: p.events.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata })),
    }));
    const { rows } = await this.pool.query<{ r: BatchResult[] }>('SELECT oms_append_batch($1::jsonb) AS r', [JSON.stringify(payload)]);
    return rows[0].r;
  }

  async readStream(streamId: string, options: { fromRevision?: number; maxCount?: number } = {}): Promise<RecordedEvent[]> {
    if (options.maxCount === undefined) return this.streamReads.load({ streamId, fromRevision: options.fromRevision ?? 0 });
    const { rows } = await this.pool.query(
      `SELECT global_position, event_id, stream_id, stream_revision, type, data, metadata, recorded_at
         FROM events WHERE stream_id = $1 AND stream_revision >= $2 ORDER BY stream_revision LIMIT $3`,
      [streamId, options.fromRevision ?? 0, options.maxCount ?? 1_000_000],
    );
    return rows.map(toRecorded);
  }

  /**
   * Each stream from its revision on, for many streams in one statement (each in revision order).
   * Should the statement fail, each read is made on its own, so only one that fails itself fails.
   */
  private async readStreams(asked: readonly { streamId: string; fromRevision: number }[]): Promise<(RecordedEvent[] | Error)[]> {
    try {
      return await this.readStreamsTogether(asked);
    } catch (err) {
      if (asked.length === 1) return [err as Error];
      return Promise.all(asked.map((a) => this.readStreamsTogether([a]).then(([read]) => read, (e: Error) => e)));
    }
  }

  private async readStreamsTogether(asked: readonly { streamId: string; fromRevision: number }[]): Promise<RecordedEvent[][]> {
    const { rows } = await this.pool.query<EventRow & { i: string }>(
      `SELECT q.i, e.global_position, e.event_id, e.stream_id, e.stream_revision, e.type, e.data, e.metadata, e.recorded_at
         FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS q(stream_id, from_revision, i)
        CROSS JOIN LATERAL (SELECT * FROM events WHERE stream_id = q.stream_id AND stream_revision >= q.from_revision ORDER BY stream_revision) e
        ORDER BY q.i, e.stream_revision`,
      [asked.map((a) => a.streamId), asked.map((a) => a.fromRevision)],
    );
    const read: RecordedEvent[][] = asked.map(() => []);
    for (const r of rows) read[Number(r.i) - 1].push(toRecorded(r));
    return read;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const { rows } = await this.pool.query(
      `SELECT global_position, event_id, stream_id, stream_revision, type, data, metadata, recorded_at
         FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2`,
      [options.after ?? 0, options.maxCount ?? 1000],
    );
    return rows.map(toRecorded);
  }

  async headPosition(): Promise<number> {
    const { rows } = await this.pool.query<{ p: number | null }>('SELECT max(global_position) AS p FROM events');
    return rows[0].p ?? 0;
  }

  subscribe(options: SubscribeOptions): Subscription {
    return pollingSubscription({ read: (after, maxCount) => this.readTail(after, maxCount), news: this.news, options });
  }

  /** Subscriptions read through the tail cache: one query serves all of them near the head. */
  private async readTail(after: number, maxCount: number): Promise<RecordedEvent[]> {
    const cached = this.tail.read(after, maxCount);
    if (cached) return cached;
    const key = `${after}:${maxCount}`;
    let pending = this.tailReads.get(key);
    if (!pending) {
      pending = this.readAll({ after, maxCount }).then((read) => { this.tail.remember(after, read); return read; })
        .finally(() => this.tailReads.delete(key));
      this.tailReads.set(key, pending);
    }
    return pending;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1 FROM events LIMIT 1');
  }

  async close(): Promise<void> {
    await this.news.close();
  }
}

function settle(p: PendingAppend, res: BatchResult): void {
  if (res.ok) return p.resolve({ revision: res.revision, position: res.position });
  p.reject(new ConcurrencyError(p.streamId, String(p.expected), res.actual === -1 ? 'no_stream' : String(res.actual)));
}

const sqlState = (err: unknown): string => String((err as { code?: string }).code ?? '');

/** Errors caused by one append's content (unique violation, data exception) rather than the database. */
const isPerAppendError = (err: unknown): boolean => sqlState(err) === '23505' || sqlState(err).startsWith('22');

function appendError(p: PendingAppend, err: unknown): unknown {
  if (sqlState(err) === '23505') return new ConflictError('event.duplicate_id', `Event ids appended to ${p.streamId} are already used in another stream`);
  if (sqlState(err).startsWith('22')) return new ValidationError('event.unstorable', 'The event data cannot be stored');
  return err;
}

interface EventRow {
  global_position: number; event_id: string; stream_id: string; stream_revision: number;
  type: string; data: unknown; metadata: Record<string, unknown>; recorded_at: Date;
}

function toRecorded(r: EventRow): RecordedEvent {
  return {
    id: r.event_id, type: r.type, data: r.data, metadata: r.metadata,
    streamId: r.stream_id, revision: r.stream_revision, position: r.global_position, recordedAt: r.recorded_at,
  };
}
