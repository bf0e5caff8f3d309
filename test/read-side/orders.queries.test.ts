import { expect } from 'chai';
import { ordersProjection } from '../../projections/orders.projection.js';
import { findOrder } from '../../read-side/orders.queries.js';
import { orderStream } from '../../write-side/orders/order.decider.js';
import type { OrderEvent, PlacedOrder } from '../../write-side/orders/order.events.js';
import { NOW } from '../support/given-when-then.js';
import { recordedLog } from '../support/recorded-events.js';
import { readModelWorld } from '../support/world.js';
import { anOrder } from '../write-side/order.decider.test.js';

const SKU1 = [{ sku: 'SKU-1', quantity: 2 }];
const SKU2 = [{ sku: 'SKU-2', quantity: 1 }];
const at = (seconds: number) => new Date(Date.parse(NOW) + seconds * 1000).toISOString();

function released(orderId: string, delivery: PlacedOrder['delivery'], allocations: { locationId: string; lines: typeof SKU1 }[]): OrderEvent[] {
  return [
    { type: 'OrderPlaced', data: { ...anOrder, orderId, delivery, payment: { method: 'prepaid' }, total: 4498, placedAt: at(0) } },
    { type: 'FraudAssessed', data: { orderId, score: 0, decision: 'approve', reasons: [], at: at(1) } },
    { type: 'OrderAllocated', data: { orderId, allocations, transfers: [], cost: 1, why: 'cheapest', candidates: [], at: at(1) } },
    { type: 'OrderReleased', data: { orderId, at: at(1) } },
  ];
}

describe('the order view', () => {
  let rm: Awaited<ReturnType<typeof readModelWorld>>;
  before(async () => {
    rm = await readModelWorld();
    const record = recordedLog();
    const pickup: OrderEvent[] = [
      ...released('o-pickup', { method: 'pickup', locationId: 'store-1' }, [{ locationId: 'store-1', lines: [...SKU1, ...SKU2] }]),
      { type: 'OrderReadyForPickup', data: { orderId: 'o-pickup', fulfilmentId: 'f-s', locationId: 'store-1', code: '481516', readyAt: at(5), expiresAt: at(9), at: at(5) } },
    ];
    const split: OrderEvent[] = [
      ...released('o-split', anOrder.delivery, [{ locationId: 'wh-1', lines: SKU1 }, { locationId: 'wh-2', lines: SKU2 }]),
      { type: 'OrderFulfilmentShipped', data: { orderId: 'o-split', fulfilmentId: 'f-1', locationId: 'wh-1', lines: SKU1, at: at(5) } },
      { type: 'OrderFulfilmentDelivered', data: { orderId: 'o-split', fulfilmentId: 'f-1', at: at(8) } },
    ];
    const log = [...record(orderStream('o-pickup'), ...pickup), ...record(orderStream('o-split'), ...split)];
    await rm.knex.transaction((trx) => ordersProjection.applyBatch!(log, trx));
  });
  after(async () => { await rm.cleanup(); });

  const view = async (orderId: string, role: string, keyId: string) => (await findOrder(rm.knex, orderId, { role, keyId }))!.view;

  it('shows the pickup code, when it was ready and until when, to operators and to the client that placed the order', async () => {
    const pickup = { code: '481516', readyAt: at(5), expiresAt: at(9) };
    expect((await view('o-pickup', 'operator', 'op-key')).pickup).to.deep.equal(pickup);
    expect((await view('o-pickup', 'client', anOrder.placedBy)).pickup).to.deep.equal(pickup);
    expect((await view('o-pickup', 'client', 'another-client')).pickup).to.equal(null);
    expect((await view('o-pickup', 'analyst', 'an-key')).pickup).to.equal(null);
    expect((await view('o-pickup', 'analyst', 'an-key')).status).to.equal('ready_for_pickup');
  });

  it('lists each allocation with its status and each shipment with when it shipped and was delivered', async () => {
    const o = await view('o-split', 'analyst', 'an-key');
    expect(o.status).to.equal('partially_shipped');
    expect(o.allocations.map((a) => [a.locationId, a.status, a.fulfilmentId])).to.deep.equal([['wh-1', 'fulfilled', 'f-1'], ['wh-2', 'reserved', undefined]]);
    expect(o.shipments).to.deep.equal([{ shipmentId: 'f-1', fulfilmentId: 'f-1', locationId: 'wh-1', lines: SKU1, shippedAt: at(5), deliveredAt: at(8) }]);
    expect(o.pickup).to.equal(null);
  });
});
