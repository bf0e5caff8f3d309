import type { Knex } from 'knex';

export async function checkpointOf(knex: Knex, projection: string): Promise<number> {
  const row = await knex('projection_checkpoints').where({ name: projection }).first('position');
  return row ? Number(row.position) : 0;
}

/**
 * The position a read model has reached. With `minPosition`, waits (up to `timeoutMs`) for the
 * model to reach it, then answers with what it has.
 */
export async function readModelPosition(knex: Knex, projection: string, minPosition?: number, timeoutMs = 5_000): Promise<number> {
  let position = await checkpointOf(knex, projection);
  if (minPosition === undefined) return position;
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  while (position < minPosition && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(delay, deadline - Date.now())));
    delay = Math.min(delay * 2, 100);
    position = await checkpointOf(knex, projection);
  }
  return position;
}
