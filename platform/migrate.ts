import type { Knex } from 'knex';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

/**
 * Applies versioned migrations in order, recording them in `tableName`. Processes starting
 * together queue on an advisory lock first: knex's own lock table is created without one.
 */
export async function migrate(knex: Knex, tableName: string, migrations: Migration[], schemaName?: string): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`oms-migrations:${schemaName ?? ''}:${tableName}`]);
    await latest(knex, tableName, migrations, schemaName);
  });
}

async function latest(knex: Knex, tableName: string, migrations: Migration[], schemaName?: string): Promise<void> {
  await knex.migrate.latest({
    tableName,
    schemaName,
    migrationSource: {
      getMigrations: async () => migrations,
      getMigrationName: (m: Migration) => m.name,
      getMigration: async (m: Migration) => ({ up: m.up, down: m.down ?? (async () => undefined) }),
    },
  });
}
