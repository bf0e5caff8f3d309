import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import { findReturn, listReturns } from '../read-side/returns.queries.js';
import { readModelPosition } from '../read-side/positions.js';
import { NotFoundError, ValidationError } from '../platform/errors.js';
import { idFor } from '../write-side/decider.js';
import { RETURN_STATUSES } from '../write-side/returns/return.state.js';
import type { ApiDeps } from './deps.js';
import { allow } from './auth.js';
import { bodyOf, commandMetadata, intParam, minPositionOf, principalOf, SERVICE_ID } from './http.js';
import { ReceiveReturnBody, RequestReturnBody } from './schemas.js';
import { compile } from './validation.js';

const checkRequest = compile<RequestReturnBody>(RequestReturnBody);
const checkReceive = compile<ReceiveReturnBody>(ReceiveReturnBody);
const STATUSES: readonly string[] = RETURN_STATUSES;

/**
 * Returns: a client asks to send back units of its own delivered orders (an operator, of any);
 * the returns desk lists them by status and receives them at a location, in one receipt or more.
 * With an Idempotency-Key, a retried request makes the same return or receipt.
 */
export function returnRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.post('/orders/:orderId/returns', allow('client', 'operator'), async (ctx) => {
    const orderId = idParam(ctx.params.orderId, 'order');
    const body = checkRequest(bodyOf(ctx));
    const p = principalOf(ctx);
    const order = await deps.write.loadOrder(orderId);
    // A client sees only the orders placed with its own key; others are as if absent.
    if (order.status === 'none' || (p.role === 'client' && order.order.placedBy !== p.keyId)) throw new NotFoundError('order.not_found', `Order ${orderId} does not exist`);
    const metadata = commandMetadata(ctx);
    const returnId = idFor(metadata, 'return', randomUUID);
    const known = order.returns.returns.some((x) => x.returnId === returnId);
    const r = await deps.write.requestReturn({
      orderId, returnId, lines: body.lines, resolution: body.resolution, ...(body.exchangeLines ? { exchangeLines: body.exchangeLines } : {}),
      windowDays: deps.returnWindowDays,
    }, metadata);
    ctx.status = known ? 200 : 201;
    ctx.body = { returnId, orderId, status: r.return.status, lines: r.return.lines, position: r.position };
  });

  router.get('/returns', allow('operator'), async (ctx) => {
    const status = ctx.query.status;
    if (status !== undefined && (typeof status !== 'string' || !STATUSES.includes(status))) {
      throw new ValidationError('request.invalid_query', 'Query parameter status is invalid', [{ path: '?status', message: `must be one of ${STATUSES.join(', ')}` }]);
    }
    const limit = intParam(ctx, 'limit', { min: 1, max: 200 }) ?? 50;
    const after = intParam(ctx, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER });
    const position = await readModelPosition(deps.knex, 'returns', minPositionOf(ctx));
    const page = await listReturns(deps.knex, { status: status as string | undefined, limit, after });
    ctx.body = { returns: page.returns, next: page.next, position };
  });

  router.get('/returns/:returnId', allow('client', 'operator'), async (ctx) => {
    const returnId = idParam(ctx.params.returnId, 'return');
    const position = await readModelPosition(deps.knex, 'returns', minPositionOf(ctx));
    const found = await findReturn(deps.knex, returnId);
    const p = principalOf(ctx);
    if (!found || (p.role === 'client' && found.placedBy !== p.keyId)) throw new NotFoundError('return.not_found', `Return ${returnId} does not exist`);
    ctx.body = { ...found.view, position };
  });

  router.post('/returns/:returnId/receive', allow('operator'), async (ctx) => {
    const returnId = idParam(ctx.params.returnId, 'return');
    const body = checkReceive(bodyOf(ctx));
    await deps.write.location(body.locationId);                      // 404 for a location that does not exist
    const metadata = commandMetadata(ctx);
    const receiptId = idFor(metadata, 'receipt', randomUUID);
    const r = await deps.write.receiveReturn({ returnId, receiptId, locationId: body.locationId, lines: body.lines, receivedBy: principalOf(ctx).keyId }, metadata);
    const receipt = r.return.receipts.find((x) => x.receiptId === receiptId);
    ctx.body = { returnId, receiptId, status: r.return.status, received: receipt?.lines ?? [], position: r.position };
  });

  return router;
}

function idParam(raw: string | undefined, what: 'order' | 'return'): string {
  if (!raw || !SERVICE_ID.test(raw)) throw new NotFoundError(`${what}.not_found`, `The ${what} ${raw ?? ''} does not exist`);
  return raw;
}
