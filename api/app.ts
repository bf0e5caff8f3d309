import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { UnsupportedMediaTypeError, ValidationError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { authenticate, type Principal } from './auth.js';
import { carrierRoutes } from './carriers.routes.js';
import type { ApiDeps } from './deps.js';
import { healthRoutes } from './health.routes.js';
import { idempotency } from './idempotency.js';
import { inventoryRoutes } from './inventory.routes.js';
import { locationRoutes } from './locations.routes.js';
import { orderRoutes } from './orders.routes.js';
import { returnRoutes } from './returns.routes.js';
import { jobRoutes } from './jobs.routes.js';
import { fulfilmentRoutes } from './fulfilments.routes.js';
import { trackingRoutes } from './tracking.routes.js';
import { problemDetails } from './problem.middleware.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What every log line of a request carries: its id and, once authenticated, the caller's key id and role. */
function requestBindings(state: { requestId: string; principal?: Principal }): Record<string, string> {
  const { requestId, principal } = state;
  return principal ? { requestId, keyId: principal.keyId, role: principal.role } : { requestId };
}

export interface Api {
  app: Koa;
  /** Resolves when no request is being handled: a stopping service waits for it before closing its pools. */
  idle(): Promise<void>;
}

export function createApp(deps: ApiDeps): Api {
  const app = new Koa();
  app.proxy = true;
  let handling = 0;
  const waiting: (() => void)[] = [];

  app.use(async (ctx, next) => {
    handling++;
    const incoming = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    // Made when first used (most requests log nothing); a request that logs after authentication
    // (every handler and the error handler do) has the caller's key id and role on its lines.
    let log: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { enumerable: true, get: () => (log ??= deps.log.child(requestBindings(ctx.state))) });
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as unknown as { routerPath?: string }).routerPath ?? 'unmatched';
      deps.metrics.httpDuration.observe({ method: ctx.method, route, status: String(ctx.status) }, seconds);
      const line = { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(seconds * 1e4) / 10 };
      if (ctx.status >= 500) ctx.state.log.error(line, 'request');
      else if (deps.log.isLevelEnabled('debug')) ctx.state.log.debug(line, 'request');
      if (--handling === 0) for (const resolve of waiting.splice(0)) resolve();
    }
  });
  app.use(problemDetails());
  app.use(async (ctx, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(ctx.method) && ctx.request.length !== 0 && ctx.get('Content-Type') && !ctx.is('application/json', 'application/*+json')) {
      throw new UnsupportedMediaTypeError('request.unsupported_media_type', 'Send the request body as application/json');
    }
    await next();
  });
  const parse = bodyParser({ enableTypes: ['json'], jsonLimit: '1mb', encoding: 'utf-8' });
  app.use(async (ctx, next) => {
    try {
      await parse(ctx, async () => undefined);
    } catch (err) {
      // Whatever the parser trips on (bad JSON, a corrupt gzip stream, a wrong length) is the client's.
      const status = (err as { status?: number }).status;
      if (status && status >= 400 && status < 500) throw err;
      throw new ValidationError('request.malformed', 'The request body could not be read');
    }
    await next();
  });

  // Signed by the carrier rather than by an API key.
  for (const router of [healthRoutes(deps), trackingRoutes(deps)]) app.use(router.routes());
  app.use(authenticate(deps.apiKeys));
  app.use(idempotency(deps.knex));
  for (const router of [locationRoutes(deps), inventoryRoutes(deps), orderRoutes(deps), returnRoutes(deps), fulfilmentRoutes(deps), carrierRoutes(deps), jobRoutes(deps)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return { app, idle: () => (handling === 0 ? Promise.resolve() : new Promise((resolve) => { waiting.push(resolve); })) };
}
