import { createHash } from 'node:crypto';
import type Koa from 'koa';
import type { ApiRole } from '../platform/config.js';
import { ForbiddenError, UnauthorizedError } from '../platform/errors.js';

export interface Principal { keyId: string; role: ApiRole }

/** An opaque, stable id for an API key, safe to record in events and logs. */
export const keyIdOf = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 16);

export function authenticate(apiKeys: Map<string, ApiRole>): Koa.Middleware {
  const byKey = new Map([...apiKeys].map(([key, role]) => [key, { keyId: keyIdOf(key), role }]));
  return async (ctx, next) => {
    const header = ctx.get('Authorization');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new UnauthorizedError('auth.missing_key', 'Send an API key as "Authorization: Bearer <key>"');
    const principal = byKey.get(match[1]);
    if (!principal) throw new UnauthorizedError('auth.unknown_key', 'The API key is not recognised');
    ctx.state.principal = principal;
    await next();
  };
}

/** Lets the given roles through (admin always). */
export function allow(...roles: ApiRole[]): Koa.Middleware {
  return async (ctx, next) => {
    const p = ctx.state.principal as Principal;
    if (p.role !== 'admin' && !roles.includes(p.role)) {
      throw new ForbiddenError('auth.role_not_allowed', `The ${p.role} role may not ${ctx.method} ${ctx.path}`);
    }
    await next();
  };
}
