import Router from '@koa/router';
import { stockForSku } from '../read-side/inventory.queries.js';
import { readModelPosition } from '../read-side/positions.js';
import { NotFoundError } from '../platform/errors.js';
import type { ApiDeps } from './app.js';
import { allow } from './auth.js';
import { bodyOf, commandMetadata, idParam, minPositionOf } from './http.js';
import { AdjustmentBody, ReceiptBody } from './schemas.js';
import { compile } from './validation.js';

const checkReceipt = compile<ReceiptBody>(ReceiptBody);
const checkAdjustment = compile<AdjustmentBody>(AdjustmentBody);

export function inventoryRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.post('/inventory/receipts', allow('operator'), async (ctx) => {
    const body = checkReceipt(bodyOf(ctx));
    ctx.status = 201;
    ctx.body = await deps.write.receiveStock(body, commandMetadata(ctx));
  });

  router.post('/inventory/adjustments', allow('operator'), async (ctx) => {
    const body = checkAdjustment(bodyOf(ctx));
    ctx.status = 201;
    ctx.body = await deps.write.adjustStock(body, commandMetadata(ctx));
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
