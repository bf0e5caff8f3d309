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
  if (minPosition === undefined) return checkpointOf(knex, projection);
  return pollUntil(() => checkpointOf(knex, projection), (position) => position >= minPosition, timeoutMs);
}

/** Asks `probe` until `done` holds of its answer (backing off from 5 to 100 ms) or `timeoutMs` passes; answers the last answer. */
export async function pollUntil<T>(probe: () => Promise<T>, done: (answer: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let answer = await probe();
  for (let delay = 5; !done(answer) && Date.now() < deadline; delay = Math.min(delay * 2, 100)) {
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
    answer = await probe();
  }
  return answer;
}
