import type { Knex } from 'knex';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

/** Applies versioned migrations in order, recording them in `tableName` (knex's migrator and lock). */
export async function migrate(knex: Knex, tableName: string, migrations: Migration[], schemaName?: string): Promise<void> {
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
