import { createHash } from 'node:crypto';
import type Koa from 'koa';
import type { Knex } from 'knex';
import { ConflictError, ValidationError } from '../platform/errors.js';
import type { Principal } from './auth.js';

const KEY = /^[\x21-\x7e]{1,255}$/;
/** A request still "in progress" after this long was cut off (a crash); a retry may take it over. */
const LEASE_SECONDS = 30;

/**
 * `Idempotency-Key` on a POST: the same key with the same body replays the first response; with
 * another body, or while the first is still running, 409. Only successful responses are kept, so
 * a refused request leaves nothing behind and can be corrected and sent again. The key also seeds
 * the ids the command makes, so a retry after a commit the client never heard about is
 * recognised by the event store instead of appending twice.
 */
export function idempotency(knex: Knex): Koa.Middleware {
  return async (ctx, next) => {
    const key = ctx.get('Idempotency-Key');
    if (!key || ctx.method !== 'POST') return next();
    if (!KEY.test(key)) {
      throw new ValidationError('idempotency.invalid_key', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
    }
    const principal = ctx.state.principal as Principal;
    const scope = `${principal.keyId} ${ctx.method} ${ctx.path}`;
    const rawBody = (ctx.request as unknown as { rawBody?: string }).rawBody ?? '';
    const requestHash = createHash('sha256').update(rawBody).digest('hex');
    const inserted = await knex('idempotency_keys').insert({ scope, key, request_hash: requestHash }).onConflict(['scope', 'key']).ignore().returning('key');
    if (inserted.length === 0) {
      const prior = await knex('idempotency_keys').where({ scope, key }).first();
      if (!prior || prior.request_hash !== requestHash) {
        throw new ConflictError('idempotency.key_reused', 'This Idempotency-Key was used with a different request body');
      }
      if (prior.status !== null) {
        ctx.status = prior.status;
        ctx.body = prior.response;
        ctx.set('Idempotent-Replayed', 'true');
        return;
      }
      const takenOver = await knex('idempotency_keys')
        .where({ scope, key }).whereNull('status')
        .andWhere('created_at', '<', knex.raw(`now() - interval '${LEASE_SECONDS} seconds'`))
        .update({ created_at: knex.fn.now() });
      if (takenOver === 0) {
        ctx.set('Retry-After', '1');
        throw new ConflictError('idempotency.in_progress', 'A request with this Idempotency-Key is still being processed');
      }
    }
    ctx.state.idempotencySeed = `${scope}\u0000${key}`;
    try {
      await next();
    } catch (err) {
      await knex('idempotency_keys').where({ scope, key }).delete().catch(() => undefined);
      throw err;
    }
    try {
      if (ctx.status < 400) {
        await knex('idempotency_keys').where({ scope, key }).update({ status: ctx.status, response: JSON.stringify(ctx.body ?? null) });
      } else {
        await knex('idempotency_keys').where({ scope, key }).delete();
      }
    } catch (err) {
      // The command is done; a retry finds the key in progress until its lease runs out, then
      // runs again and the event store recognises the seeded event ids.
      ctx.state.log?.warn({ err }, 'could not record the idempotent response');
    }
  };
}

/** Keys are kept for 48 hours (the contract promises at least 24). */
export async function purgeIdempotencyKeys(knex: Knex): Promise<number> {
  return knex('idempotency_keys').where('created_at', '<', knex.raw("now() - interval '48 hours'")).delete();
}
