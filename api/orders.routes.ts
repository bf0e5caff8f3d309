import Router from '@koa/router';
import { findOrder, listOrders, ordersOnHold } from '../read-side/orders.queries.js';
import { readModelPosition } from '../read-side/positions.js';
import { ConflictError, NotFoundError, ValidationError } from '../platform/errors.js';
import type { ApiDeps } from './deps.js';
import { allow } from './auth.js';
import { bodyOf, commandMetadata, intParam, minPositionOf, principalOf, SERVICE_ID } from './http.js';
import { CancelOrderBody, PlaceOrderBody, ReviewOrderBody } from './schemas.js';
import { CHANNELS } from '../write-side/orders/order.events.js';
import { ORDER_STATUSES } from '../write-side/orders/order.state.js';
import { compile } from './validation.js';

const checkPlaceOrder = compile<PlaceOrderBody>(PlaceOrderBody);
const checkCancel = compile<CancelOrderBody>(CancelOrderBody);
const checkReview = compile<ReviewOrderBody>(ReviewOrderBody);
const STATUSES: string[] = [...ORDER_STATUSES];

export function orderRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.post('/orders', allow('client'), async (ctx) => {
    const body = checkPlaceOrder(bodyOf(ctx));
    const p = principalOf(ctx);
    const r = await deps.write.placeOrder({ ...body, placedBy: p.keyId }, commandMetadata(ctx));
    if (r.duplicate && p.role === 'client' && r.placedBy !== p.keyId) {
      throw new ConflictError('order.external_id_in_use', 'Another client has placed an order with this channel, source and externalId');
    }
    ctx.status = r.duplicate ? 200 : 201;
    ctx.body = { orderId: r.orderId, status: r.status, placedAt: r.placedAt, position: r.position, ...(r.duplicate ? { duplicate: true } : {}) };
  });

  router.get('/orders/:orderId', allow('client', 'operator', 'analyst'), async (ctx) => {
    const orderId = orderIdParam(ctx.params.orderId);
    const position = await readModelPosition(deps.knex, 'orders', minPositionOf(ctx));
    const p = principalOf(ctx);
    const found = await findOrder(deps.knex, orderId, { role: p.role, keyId: p.keyId });
    // A client sees only the orders placed with its own key; others are as if absent.
    if (!found || (p.role === 'client' && found.placedBy !== p.keyId)) throw notFound(orderId);
    ctx.body = { ...found.view, position };
  });

  router.get('/orders', allow('operator', 'analyst'), async (ctx) => {
    const status = enumParam(ctx.query.status, 'status', STATUSES);
    const channel = enumParam(ctx.query.channel, 'channel', [...CHANNELS]);
    const limit = intParam(ctx, 'limit', { min: 1, max: 200 }) ?? 50;
    const before = cursorParam(ctx.query.after);
    const position = await readModelPosition(deps.knex, 'orders', minPositionOf(ctx));
    const page = await listOrders(deps.knex, { status, channel, limit, before });
    ctx.body = { orders: page.orders, nextCursor: page.next === null ? null : encodeCursor(page.next), position };
  });

  router.post('/orders/:orderId/cancel', allow('client', 'operator'), async (ctx) => {
    const orderId = orderIdParam(ctx.params.orderId);
    const body = checkCancel(bodyOf(ctx));
    const p = principalOf(ctx);
    if (p.role === 'client') {
      const order = await deps.write.loadOrder(orderId);
      if (order.status === 'none' || order.order.placedBy !== p.keyId) throw notFound(orderId);
    }
    const r = await deps.write.cancelOrder(orderId, body.reason, commandMetadata(ctx));
    ctx.body = { orderId, status: r.status, position: r.position };
  });

  router.post('/orders/:orderId/review', allow('operator'), async (ctx) => {
    const orderId = orderIdParam(ctx.params.orderId);
    const body = checkReview(bodyOf(ctx));
    const r = await deps.write.reviewOrder({ orderId, decision: body.decision, ...(body.note === undefined ? {} : { note: body.note }), reviewer: principalOf(ctx).keyId },
      commandMetadata(ctx));
    ctx.body = { orderId, status: r.status, position: r.position };
  });

  router.get('/fraud/reviews', allow('operator'), async (ctx) => {
    const limit = intParam(ctx, 'limit', { min: 1, max: 500 }) ?? 100;
    const position = await readModelPosition(deps.knex, 'orders', minPositionOf(ctx));
    ctx.body = { orders: await ordersOnHold(deps.knex, limit), position };
  });

  return router;
}

function orderIdParam(raw: string | undefined): string {
  if (!raw || !SERVICE_ID.test(raw)) throw notFound(raw ?? '');
  return raw;
}

const notFound = (orderId: string) => new NotFoundError('order.not_found', `Order ${orderId} does not exist`);

function enumParam(raw: unknown, name: string, allowed: string[]): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !allowed.includes(raw)) {
    throw new ValidationError('request.invalid_query', `Query parameter ${name} is invalid`, [{ path: `?${name}`, message: `must be one of ${allowed.join(', ')}` }]);
  }
  return raw;
}

const encodeCursor = (position: number): string => Buffer.from(`p${position}`).toString('base64url');

function cursorParam(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const decoded = typeof raw === 'string' ? Buffer.from(raw, 'base64url').toString() : '';
  const m = /^p(\d{1,15})$/.exec(decoded);
  if (!m) throw new ValidationError('request.invalid_query', 'Query parameter after is not a cursor from a previous page', [{ path: '?after', message: 'is not a valid cursor' }]);
  return Number(m[1]);
}
