import Router from '@koa/router';
import type { ApiDeps } from './deps.js';
import { openApiDocument } from './openapi.js';

const CHECK_TIMEOUT_MS = 2_000;

export function healthRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.get('/health', async (ctx) => {
    const entries = await Promise.all(Object.entries(deps.checks).map(async ([name, check]) => [name, await probe(check)] as const));
    const checks = Object.fromEntries(entries);
    const ok = entries.every(([, v]) => v === 'ok');
    ctx.status = ok ? 200 : 503;
    ctx.body = { status: ok ? 'ok' : 'degraded', eventStore: deps.eventStoreKind, checks };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  router.get('/openapi.json', (ctx) => { ctx.body = openApiDocument; });

  return router;
}

async function probe(check: () => Promise<void>): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([check(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS); })]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}
