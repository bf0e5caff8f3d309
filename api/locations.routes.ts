import Router from '@koa/router';
import { listLocations } from '../read-side/locations.queries.js';
import { readModelPosition } from '../read-side/positions.js';
import type { ApiDeps } from './deps.js';
import { allow } from './auth.js';
import { bodyOf, commandMetadata, idParam, minPositionOf } from './http.js';
import { PutLocationBody } from './schemas.js';
import { compile } from './validation.js';

const checkPutLocation = compile<PutLocationBody>(PutLocationBody);

export function locationRoutes(deps: ApiDeps): Router {
  const router = new Router({ strict: true, sensitive: true });

  router.put('/locations/:locationId', allow('operator'), async (ctx) => {
    const locationId = idParam(ctx, 'locationId');
    const body = checkPutLocation(bodyOf(ctx));
    const r = await deps.write.registerLocation({ locationId, ...body }, commandMetadata(ctx));
    if (r.location.status === 'none') throw new Error('location not registered');
    ctx.status = r.created ? 201 : 200;
    ctx.body = { ...r.location.details, position: r.position };
  });

  router.get('/locations', allow('operator', 'analyst', 'client'), async (ctx) => {
    const position = await readModelPosition(deps.knex, 'locations', minPositionOf(ctx));
    ctx.body = { locations: await listLocations(deps.knex), position };
  });

  return router;
}
