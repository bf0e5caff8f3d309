import { randomInt } from 'node:crypto';
import Router from '@koa/router';
import { findFulfilment, fulfilmentQueue } from '../read-side/fulfilments.queries.js';
import { FULFILMENT_STATUSES } from '../write-side/fulfilments/fulfilment.state.js';
import { readModelPosition } from '../read-side/positions.js';
import { ConflictError, NotFoundError, ValidationError } from '../platform/errors.js';
import type { ApiDeps } from './deps.js';
import type { FulfilmentResult } from '../write-side/commands.js';
import { allow } from './auth.js';
import { bodyOf, commandMetadata, intParam, minPositionOf, SERVICE_ID } from './http.js';
import { CLIENT_ID, CollectBody, PackFulfilmentBody, PickBody, RejectFulfilmentBody } from './schemas.js';
import { compile } from './validation.js';

const checkPick = compile<PickBody>(PickBody);
const checkReject = compile<RejectFulfilmentBody>(RejectFulfilmentBody);
const checkPack = compile<PackFulfilmentBody>(PackFulfilmentBody);
const checkCollect = compile<CollectBody>(CollectBody);
const STATUSES: readonly string[] = FULFILMENT_STATUSES;

/** The work a location does for an order: its queue, and the steps an operator or store associate records. */
export function fulfilmentRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.get('/fulfilments', allow('operator'), async (ctx) => {
    const locationId = ctx.query.locationId === undefined ? undefined : queryId(ctx.query.locationId, 'locationId');
    const status = ctx.query.status;
    if (status !== undefined && (typeof status !== 'string' || !STATUSES.includes(status))) {
      throw new ValidationError('request.invalid_query', 'Query parameter status is invalid', [{ path: '?status', message: `must be one of ${STATUSES.join(', ')}` }]);
    }
    const limit = intParam(ctx, 'limit', { min: 1, max: 200 }) ?? 50;
    const after = intParam(ctx, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER });
    const position = await readModelPosition(deps.knex, 'fulfilments', minPositionOf(ctx));
    const page = await fulfilmentQueue(deps.knex, { locationId, status: status as string | undefined, limit, after });
    ctx.body = { fulfilments: page.fulfilments, next: page.next, position };
  });

  router.get('/fulfilments/:id', allow('operator'), async (ctx) => {
    const id = fulfilmentIdParam(ctx.params.id);
    const position = await readModelPosition(deps.knex, 'fulfilments', minPositionOf(ctx));
    const found = await findFulfilment(deps.knex, id);
    if (!found) throw notFound(id);
    ctx.body = { ...found, position };
  });

  router.post('/fulfilments/:id/pick', allow('operator'), async (ctx) => {
    const r = await deps.write.recordPick(fulfilmentIdParam(ctx.params.id), checkPick(bodyOf(ctx)).lines, commandMetadata(ctx));
    ctx.body = view(r);
  });

  router.post('/fulfilments/:id/reject', allow('operator'), async (ctx) => {
    const r = await deps.write.rejectFulfilment(fulfilmentIdParam(ctx.params.id), checkReject(bodyOf(ctx)).reason, commandMetadata(ctx));
    ctx.body = view(r);
  });

  router.post('/fulfilments/:id/pack', allow('operator'), async (ctx) => {
    const r = await deps.write.packFulfilment(fulfilmentIdParam(ctx.params.id), checkPack(bodyOf(ctx)).packages, commandMetadata(ctx));
    ctx.status = 202;
    ctx.body = view(r);
  });

  router.post('/fulfilments/:id/ship', allow('operator'), async (ctx) => {
    const id = fulfilmentIdParam(ctx.params.id);
    // An order cancelled while its parcel waited for the carrier must not leave: its payment is being given back.
    const f = await deps.write.loadFulfilment(id);
    if (f.status !== 'none') {
      const order = await deps.write.loadOrder(f.orderId, { fresh: true });
      if (order.status !== 'none' && (order.cancellation || order.rejection)) {
        throw new ConflictError('order.closed', `Order ${f.orderId} was ${order.cancellation ? 'cancelled' : 'rejected'}: the parcel must not be handed over`);
      }
    }
    ctx.body = view(await deps.write.shipFulfilment(id, commandMetadata(ctx)));
  });

  // The pickup store has the transfer in hand: its units are on the store's ledger, held for the order, and the pickup stops waiting for it.
  router.post('/fulfilments/:id/receive', allow('operator'), async (ctx) => {
    ctx.body = view(await deps.write.receiveTransferFulfilment(fulfilmentIdParam(ctx.params.id), commandMetadata(ctx)));
  });

  router.post('/fulfilments/:id/ready', allow('operator'), async (ctx) => {
    const metadata = commandMetadata(ctx);
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const expiresAt = new Date(Date.parse(metadata.now) + deps.pickupExpiryHours * 3600_000).toISOString();
    ctx.body = view(await deps.write.markReadyForPickup(fulfilmentIdParam(ctx.params.id), { code, expiresAt }, metadata));
  });

  router.post('/fulfilments/:id/collect', allow('operator'), async (ctx) => {
    const r = await deps.write.collectFulfilment(fulfilmentIdParam(ctx.params.id), checkCollect(bodyOf(ctx)).code, commandMetadata(ctx));
    ctx.body = view(r);
  });

  return router;
}

function view(r: FulfilmentResult) {
  return { fulfilmentId: r.fulfilment.fulfilmentId, orderId: r.fulfilment.orderId, status: r.fulfilment.status, position: r.position };
}

function queryId(raw: unknown, name: string): string {
  if (typeof raw !== 'string' || !CLIENT_ID_RE.test(raw)) {
    throw new ValidationError('request.invalid_query', `Query parameter ${name} is invalid`, [{ path: `?${name}`, message: `must match ${CLIENT_ID}` }]);
  }
  return raw;
}

const CLIENT_ID_RE = new RegExp(CLIENT_ID);

function fulfilmentIdParam(raw: string | undefined): string {
  if (!raw || !SERVICE_ID.test(raw)) throw notFound(raw ?? '');
  return raw;
}

const notFound = (id: string) => new NotFoundError('fulfilment.not_found', `Fulfilment ${id} does not exist`);
