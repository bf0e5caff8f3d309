import Router from '@koa/router';
import { shopRates } from '../carriers/rate-shopping.js';
import { ConflictError, NotFoundError } from '../platform/errors.js';
import { listLocations } from '../read-side/locations.queries.js';
import { readModelPosition } from '../read-side/positions.js';
import type { ApiDeps } from './deps.js';
import { allow } from './auth.js';
import { bodyOf, minPositionOf } from './http.js';
import { ShippingRatesBody } from './schemas.js';
import { compile } from './validation.js';

const checkRates = compile<ShippingRatesBody>(ShippingRatesBody);

/** The design's default cut-off (UTC) for a location whose read model row does not carry one. */
const DEFAULT_CUTOFF_HOUR = 16;

export function carrierRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.get('/carriers', allow('operator'), async (ctx) => {
    ctx.body = {
      carriers: deps.carriers.map((c) => ({
        carrierId: c.carrierId, name: c.name, services: c.services.map(({ code, name, transitDays }) => ({ code, name, transitDays })),
      })),
    };
  });

  router.post('/shipping/rates', allow('client', 'operator'), async (ctx) => {
    const body = checkRates(bodyOf(ctx));
    const position = await readModelPosition(deps.knex, 'locations', minPositionOf(ctx));
    const from = (await listLocations(deps.knex)).find((l) => l.locationId === body.from);
    if (!from) throw new NotFoundError('location.not_found', `Location ${body.from} does not exist`);
    if (!from.active || !from.canShip) throw new ConflictError('location.cannot_ship', `Location ${body.from} does not ship parcels${from.active ? '' : ' (inactive)'}`);
    const { quotes, unavailable } = await shopRates(deps.carriers, {
      from: { locationId: from.locationId, geo: from.geo, cutoffHour: (from as { cutoffHour?: number }).cutoffHour ?? DEFAULT_CUTOFF_HOUR },
      to: body.to,
      packages: body.packages.map((p) => ({ ...p, lines: p.lines ?? [] })),
      currency: body.currency ?? 'EUR',
      reference: `rates:${ctx.state.requestId}`,
      readyAt: new Date().toISOString(),
    }, deps.carrierQuoteTimeoutMs);
    ctx.body = { quotes, unavailable, position };
  });

  return router;
}
