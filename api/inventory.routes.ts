import Router from '@koa/router';
import { v7 as uuidv7 } from 'uuid';
import { findTransfer, stockForSku } from '../read-side/inventory.queries.js';
import { idFor } from '../write-side/decider.js';
import { readModelPosition } from '../read-side/positions.js';
import { ConflictError, NotFoundError, ValidationError } from '../platform/errors.js';
import type { ApiDeps } from './deps.js';
import { allow } from './auth.js';
import { bodyOf, commandMetadata, idParam, minPositionOf, SERVICE_ID } from './http.js';
import { AdjustmentBody, AvailabilityBody, ReceiptBody, SafetyStockBody, TransferBody } from './schemas.js';
import { compile } from './validation.js';

const checkReceipt = compile<ReceiptBody>(ReceiptBody);
const checkAdjustment = compile<AdjustmentBody>(AdjustmentBody);
const checkSafetyStock = compile<SafetyStockBody>(SafetyStockBody);
const checkTransfer = compile<TransferBody>(TransferBody);
const checkAvailability = compile<AvailabilityBody>(AvailabilityBody);
const transferNotFound = (id: string) => new NotFoundError('transfer.not_found', `Transfer ${id} does not exist`);

export function inventoryRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.post('/inventory/receipts', allow('operator'), async (ctx) => {
    const body = checkReceipt(bodyOf(ctx));
    ctx.status = 201;
    const { changed: _c, ...ledger } = await deps.write.onLedger({ type: 'ReceiveStock', data: body, metadata: commandMetadata(ctx) }, { locationMustExist: true });
    ctx.body = ledger;
  });

  router.post('/inventory/adjustments', allow('operator'), async (ctx) => {
    const body = checkAdjustment(bodyOf(ctx));
    ctx.status = 201;
    const { changed: _c, ...ledger } = await deps.write.onLedger({ type: 'AdjustStock', data: body, metadata: commandMetadata(ctx) }, { locationMustExist: true });
    ctx.body = ledger;
  });

  router.put('/inventory/safety-stock', allow('operator'), async (ctx) => {
    const body = checkSafetyStock(bodyOf(ctx));
    const { changed: _c, ...ledger } = await deps.write.onLedger({ type: 'SetSafetyStock', data: body, metadata: commandMetadata(ctx) }, { locationMustExist: true });
    ctx.body = ledger;
  });

  router.post('/inventory/transfers', allow('operator'), async (ctx) => {
    const { sku, from, to, quantity } = checkTransfer(bodyOf(ctx));
    if (from === to) throw new ValidationError('transfer.same_location', 'A transfer must go to another location', [{ path: '/to', message: 'must differ from /from' }]);
    await deps.write.location(to);
    const metadata = commandMetadata(ctx);
    const transferId = idFor(metadata, 'transfer', uuidv7);
    const r = await deps.write.onLedger({ type: 'TransferStockOut', data: { sku, locationId: from, transferId, to, quantity }, metadata }, { locationMustExist: true });
    ctx.status = 201;
    ctx.body = { transferId, sku, from, to, quantity, status: 'in_transit', position: r.position };
  });

  router.post('/inventory/transfers/:transferId/receive', allow('operator'), async (ctx) => {
    const transferId = ctx.params.transferId;
    if (!SERVICE_ID.test(transferId ?? '')) throw transferNotFound(transferId ?? '');
    await readModelPosition(deps.knex, 'stock-levels', minPositionOf(ctx));
    const transfer = await findTransfer(deps.knex, transferId);
    if (!transfer) throw transferNotFound(transferId);
    // An order's units on their way to its pickup store arrive reserved for it, received with their fulfilment.
    if (transfer.fulfilmentId) {
      throw new ConflictError('transfer.for_fulfilment', `Transfer ${transferId} carries units of order ${transfer.orderId}: receive it with POST /fulfilments/${transfer.fulfilmentId}/receive`);
    }
    const r = await deps.write.receiveTransfer({ sku: transfer.sku, locationId: transfer.to, transferId, from: transfer.from, quantity: transfer.quantity }, commandMetadata(ctx));
    ctx.body = { ...transfer, status: 'received', receivedAt: r.receivedAt, position: r.position };
  });

  router.post('/availability', allow('client', 'operator'), async (ctx) => {
    const { lines, delivery } = checkAvailability(bodyOf(ctx));
    const position = await readModelPosition(deps.knex, 'stock-levels', minPositionOf(ctx));
    const plan = await deps.allocator.plan(lines, delivery);
    ctx.body = plan.fillable
      ? { fillable: true, plan: plan.allocations, transfers: plan.kind === 'pickup' ? plan.transfers : [], cost: plan.cost, why: plan.why, candidates: plan.candidates, position }
      : { fillable: false, plan: [], missing: plan.missing, why: plan.why, candidates: plan.candidates, position };
  });

  router.get('/inventory/:sku', allow('operator', 'analyst'), async (ctx) => {
    const sku = idParam(ctx, 'sku');
    const position = await readModelPosition(deps.knex, 'stock-levels', minPositionOf(ctx));
    const stock = await stockForSku(deps.knex, sku);
    if (!stock) throw new NotFoundError('inventory.unknown_sku', `No stock has been recorded for SKU ${sku}`);
    ctx.body = { ...stock, position };
  });

  return router;
}
