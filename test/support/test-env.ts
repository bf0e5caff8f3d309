import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ensureDatabase, type DbSettings } from '../../platform/db.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/oms_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A schema of its own in the test database, so tests run in any order and beside a live service. */
export async function isolatedSchema(prefix = 't', poolSize = 10): Promise<DbSettings & { drop(): Promise<void> }> {
  const schema = uniqueName(prefix).toLowerCase();
  const settings = { databaseUrl: TEST_DATABASE_URL, schema, poolSize };
  await ensureDatabase(settings);
  return {
    ...settings,
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
