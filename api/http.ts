import type Koa from 'koa';
import { ValidationError } from '../platform/errors.js';
import type { CommandMetadata } from '../write-side/decider.js';
import type { Principal } from './auth.js';
import { CLIENT_ID } from './schemas.js';

export const bodyOf = (ctx: Koa.Context): unknown => (ctx.request as unknown as { body?: unknown }).body;

/** Metadata for a command issued by this request: time, correlation and the API key's role. */
export function commandMetadata(ctx: Koa.Context): CommandMetadata {
  const p = ctx.state.principal as Principal;
  return {
    now: new Date().toISOString(),
    correlationId: ctx.state.requestId,
    causationId: ctx.state.requestId,
    requestId: ctx.state.requestId,
    actor: { kind: 'api', id: p.keyId, role: p.role },
    ...(ctx.state.idempotencySeed ? { idempotencySeed: ctx.state.idempotencySeed } : {}),
  };
}

export function principalOf(ctx: Koa.Context): Principal {
  return ctx.state.principal as Principal;
}

export function intParam(ctx: Koa.Context, name: string, opts: { min: number; max: number }): number | undefined {
  const raw = ctx.query[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < opts.min || n > opts.max) {
    throw new ValidationError('request.invalid_query', `Query parameter ${name} is invalid`,
      [{ path: `?${name}`, message: `must be a whole number from ${opts.min} to ${opts.max}` }]);
  }
  return n;
}

export const minPositionOf = (ctx: Koa.Context): number | undefined => intParam(ctx, 'minPosition', { min: 0, max: Number.MAX_SAFE_INTEGER });

const CLIENT_ID_RE = new RegExp(CLIENT_ID);

/** Ids the service makes (orders, transfers) are UUIDs. */
export const SERVICE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function idParam(ctx: Koa.Context, name: string): string {
  const value = (ctx.params as Record<string, string>)[name];
  if (!CLIENT_ID_RE.test(value ?? '')) {
    throw new ValidationError('request.invalid_id', `${name} is not a valid id`, [{ path: `/${name}`, message: `must match ${CLIENT_ID}` }]);
  }
  return value;
}
