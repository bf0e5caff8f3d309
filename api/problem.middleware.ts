import type Koa from 'koa';
import { AppError, ConcurrencyError, ValidationError } from '../platform/errors.js';

interface HttpLikeError { status?: number; statusCode?: number; expose?: boolean; type?: string; message?: string }

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** The one error middleware: every error leaves as application/problem+json (RFC 9457). */
export function problemDetails(): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        problem(ctx, 404, 'route.not_found', `No route for ${ctx.method} ${ctx.path}`);
      } else if (ctx.status === 405 && ctx.body === undefined) {
        problem(ctx, 405, 'route.method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`);
      }
    } catch (err) {
      if (err instanceof ConcurrencyError) {
        problem(ctx, 409, err.code, 'The resource was changed by another request at the same time; retry');
        return;
      }
      if (err instanceof AppError) {
        problem(ctx, err.status, err.code, err.message, err instanceof ValidationError && err.errors.length > 0 ? err.errors : undefined);
        return;
      }
      const e = err as HttpLikeError;
      const status = e.status ?? e.statusCode;
      if (status && status >= 400 && status < 500) {
        // Raised by the body parser or the router: a client problem, described without internals.
        const code = status === 413 ? 'request.too_large' : status === 415 ? 'request.unsupported_media_type' : 'request.malformed';
        const detail = status === 413 ? 'The request body is larger than 1 MiB'
          : e.type === 'entity.parse.failed' || /JSON/i.test(e.message ?? '') ? 'The request body is not valid JSON' : (e.expose && e.message) || 'Bad request';
        problem(ctx, status, code, detail);
        return;
      }
      if (isUnavailable(err)) {
        ctx.state.log?.warn({ err }, 'dependency unavailable');
        problem(ctx, 503, 'service.unavailable', 'A dependency is unavailable; try again shortly');
        ctx.set('Retry-After', '1');
        return;
      }
      ctx.state.log?.error({ err }, 'unexpected error');
      problem(ctx, 500, 'internal', `An unexpected error occurred (request ${ctx.state.requestId ?? 'unknown'})`);
    }
  };
}

export function problem(ctx: Koa.Context, status: number, code: string, detail: string, errors?: { path: string; message: string }[]): void {
  ctx.status = status;
  ctx.type = 'application/problem+json';
  ctx.body = { type: `urn:oms:problem:${code}`, title: TITLES[status] ?? 'Error', status, detail, code, ...(errors ? { errors } : {}) };
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300', '08006', '08001', '08003']);

function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (e.code !== undefined && UNAVAILABLE_CODES.has(e.code))
    || /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Timeout acquiring a connection|Connection is closed/i.test(e.message ?? '');
}
