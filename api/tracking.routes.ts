import Router from '@koa/router';
import { batchedShipmentByTracking } from '../read-side/fulfilments.queries.js';
import { shipmentStatus } from '../write-side/fulfilments/fulfilment.state.js';
import { ConflictError, NotFoundError, UnauthorizedError } from '../platform/errors.js';
import type { ApiDeps } from './deps.js';
import type { CommandMetadata } from '../write-side/decider.js';
import { verifyCarrierSignature } from './carrier-signature.js';
import { bodyOf, idParam } from './http.js';
import { TrackingUpdateBody } from './schemas.js';
import { compile } from './validation.js';

const checkUpdate = compile<TrackingUpdateBody>(TrackingUpdateBody);
/** A fulfilment in one of these has ended: its shipment takes no more tracking. */
const ENDED = new Set(['fulfilment.cancelled', 'fulfilment.rejected', 'fulfilment.expired', 'fulfilment.already_collected']);

/**
 * Carriers post tracking updates here, signed with their secret instead of an API key. A bad or
 * missing signature or a stale timestamp is 401 and writes nothing; the same update twice is one
 * event; an older one is kept in the history without moving the status back.
 */
export function trackingRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });
  const shipmentOf = batchedShipmentByTracking(deps.knex);

  router.post('/carriers/:carrierId/tracking', async (ctx) => {
    const carrierId = idParam(ctx, 'carrierId');
    const rawBody = (ctx.request as unknown as { rawBody?: string }).rawBody ?? '';
    const verdict = verifyCarrierSignature({
      secret: deps.carrierWebhookSecrets.get(carrierId), signature: ctx.get('X-Carrier-Signature'), timestamp: ctx.get('X-Carrier-Timestamp'), rawBody, now: new Date(),
    });
    if (!verdict.ok) throw new UnauthorizedError('carrier.bad_signature', `The tracking update is not signed by ${carrierId}: ${verdict.reason}`);
    const update = checkUpdate(bodyOf(ctx));
    const shipment = await shipmentOf(carrierId, update.trackingNumber);
    if (!shipment) throw new NotFoundError('shipment.unknown_tracking_number', `No shipment of ${carrierId} has tracking number ${update.trackingNumber}`);
    const metadata: CommandMetadata = {
      now: new Date().toISOString(), correlationId: shipment.orderId, causationId: ctx.state.requestId, requestId: ctx.state.requestId, actor: { kind: 'api', id: carrierId, role: 'carrier' },
    };
    if (shipment.kind === 'return') {
      // A return's parcel on its way back: its tracking moves the return on, by the same rules.
      const r = await deps.write.recordReturnTracking(shipment.id, { carrierId, ...update }, metadata);
      ctx.body = { trackingNumber: update.trackingNumber, recorded: r.events.length > 0, status: r.return.status, position: r.position };
      return;
    }
    const r = await deps.write.recordTracking(shipment.id, { carrierId, ...update }, metadata).catch((err: unknown) => {
      // A shipment whose fulfilment ended (cancelled, say) takes no more updates; the carrier hears it was received, so it stops sending.
      if (err instanceof ConflictError && ENDED.has(err.code)) return null;
      throw err;
    });
    if (r === null) {
      ctx.body = { trackingNumber: update.trackingNumber, recorded: false, status: null, position: null };
      return;
    }
    ctx.body = { trackingNumber: update.trackingNumber, recorded: r.events.length > 0, status: shipmentStatus(r.fulfilment), position: r.position };
  });

  return router;
}
