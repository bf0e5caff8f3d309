import pg from 'pg';
import knexFactory, { type Knex } from 'knex';

// bigint columns (positions, revisions) come back as JS numbers: every position we hand out
// stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** A connection attempt that has not succeeded by then fails (the API answers 503) rather than hanging. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Idle connections are probed after this long, so a server that vanished without closing them is noticed within about a minute. */
const KEEPALIVE_MS = 10_000;

export interface DbSettings { databaseUrl: string; schema: string; poolSize: number }

/**
 * A pg pool whose idle connections may fail (PostgreSQL restarting) without ending the process:
 * the pool drops such a connection and `onError` hears of it; the next query connects again.
 */
export function createPgPool(s: DbSettings, applicationName = 'oms', onError: (err: Error) => void = () => undefined): pg.Pool {
  const pool = new pg.Pool({
    connectionString: s.databaseUrl,
    max: s.poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_MS,
    application_name: applicationName,
    options: `-c search_path=${s.schema}`,
  });
  pool.on('error', onError);
  return pool;
}

/**
 * `asyncCommit` is for writers of derived data (read models, the dispatcher's checkpoint): a
 * crash may lose their last commits, rows and checkpoint together, and the log replays them.
 */
export function createKnex(s: DbSettings, options: { asyncCommit?: boolean; name?: string } = {}): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: s.databaseUrl, application_name: options.name ?? 'oms', connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, keepAliveInitialDelayMillis: KEEPALIVE_MS },
    searchPath: [s.schema],
    acquireConnectionTimeout: 2 * CONNECT_TIMEOUT_MS,
    pool: {
      min: 0,
      max: s.poolSize,
      ...(options.asyncCommit ? {
        afterCreate: (conn: pg.Client, done: (err: Error | null, conn: pg.Client) => void) => {
          conn.query('SET synchronous_commit = off', (err) => done(err, conn));
        },
      } : {}),
    },
  });
}

/** Creates the database named in the URL (and the schema) when missing, so a fresh machine starts. */
export async function ensureDatabase(s: DbSettings): Promise<void> {
  const url = new URL(s.databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const probe = new pg.Client({ connectionString: s.databaseUrl });
  try {
    await probe.connect();
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err;     // invalid_catalog_name
    const admin = new URL(s.databaseUrl);
    admin.pathname = '/postgres';
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } catch (e) {
      if ((e as { code?: string }).code !== '42P04') throw e;       // created meanwhile
    } finally {
      await client.end();
    }
    await probe.end().catch(() => undefined);
    return ensureDatabase(s);
  }
  try {
    await probe.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(s.schema)}`);
  } catch (e) {
    if ((e as { code?: string }).code !== '23505') throw e;          // concurrent create
  } finally {
    await probe.end();
  }
}
