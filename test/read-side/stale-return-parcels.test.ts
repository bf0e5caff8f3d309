import { expect } from 'chai';
import type { Knex } from 'knex';
import { returnsProjection } from '../../projections/returns.projection.js';
import { staleReturnParcels } from '../../read-side/returns.queries.js';
import type { ShipmentStatus } from '../../write-side/fulfilments/fulfilment.events.js';
import type { ReturnEvent } from '../../write-side/returns/return.events.js';
import { recordedLog } from '../support/recorded-events.js';
import { readModelWorld } from '../support/world.js';

// The return parcels the tracking poll asks carriers about, from the returns read model: events in, rows out.

const HOUR = 3600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

function aReturn(returnId: string) {
  const ids = { returnId, orderId: `o-${returnId}` };
  const label = {
    shipmentId: returnId, carrierId: 'parcelnet', service: 'ground', trackingNumber: `PN-${returnId}`, labelUrl: 'https://labels.example/x.pdf',
    cost: 500, currency: 'EUR', estimatedDelivery: '2026-12-01', choice: { why: 'cheapest', quotes: [], unavailable: [] },
  };
  return {
    opened: (at: string): ReturnEvent => ({
      type: 'ReturnOpened',
      data: {
        ...ids, customerId: 'c-1', placedBy: 'client', currency: 'EUR', lines: [{ sku: 'SKU-1', quantity: 1, unitPrice: 1500, reason: 'too small' }], resolution: 'refund',
        origin: { kind: 'address', address: { line1: '1 Main St', city: 'Hamburg', postalCode: '20095', country: 'DE' } }, at,
      },
    }),
    labelled: (at: string): ReturnEvent => ({ type: 'ReturnLabelled', data: { ...ids, label, locationId: 'wh-hh', at } }),
    tracked: (status: ShipmentStatus, at: string): ReturnEvent => ({
      type: 'ReturnTracked', data: { ...ids, carrierId: 'parcelnet', trackingNumber: label.trackingNumber, status, at, moved: true },
    }),
    received: (at: string): ReturnEvent => ({
      type: 'ReturnReceived', data: { ...ids, receiptId: `rc-${returnId}`, locationId: 'wh-hh', lines: [{ sku: 'SKU-1', quantity: 1, condition: 'resellable', unitPrice: 1500 }], receivedBy: 'op', at },
    }),
  };
}

describe('return parcels to poll', () => {
  let knex: Knex;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ knex, cleanup } = await readModelWorld());
    const record = recordedLog();
    const [silent, moving, arrived, received, unlabelled] = ['r-silent', 'r-moving', 'r-arrived', 'r-received', 'r-unlabelled'].map(aReturn);
    const events = [
      ...record('return-r-silent', silent.opened(ago(9 * HOUR)), silent.labelled(ago(8 * HOUR))),
      // Tracked events are heard now (when recorded), whatever the carrier's time of the scan.
      ...record('return-r-moving', moving.opened(ago(9 * HOUR)), moving.labelled(ago(9 * HOUR)), moving.tracked('in_transit', ago(7 * HOUR))),
      ...record('return-r-arrived', arrived.opened(ago(9 * HOUR)), arrived.labelled(ago(9 * HOUR)), arrived.tracked('delivered', ago(7 * HOUR))),
      ...record('return-r-received', received.opened(ago(9 * HOUR)), received.labelled(ago(9 * HOUR)), received.received(ago(8 * HOUR))),
      ...record('return-r-unlabelled', unlabelled.opened(ago(9 * HOUR))),
    ];
    await knex.transaction((trx) => returnsProjection.applyBatch!(events, trx));
  });
  after(async () => { await cleanup(); });

  it('are the labelled ones not yet received nor delivered that nothing was heard of for a while, longest silent first', async () => {
    const now = new Date();
    expect((await staleReturnParcels(knex, { olderThanMs: 6 * HOUR, now, limit: 10 })).map((s) => [s.returnId, s.carrierId, s.trackingNumber, s.shipmentStatus]))
      .to.deep.equal([['r-silent', 'parcelnet', 'PN-r-silent', 'label_created']]);
    const later = new Date(now.getTime() + 7 * HOUR);
    expect((await staleReturnParcels(knex, { olderThanMs: 6 * HOUR, now: later, limit: 10 })).map((s) => [s.returnId, s.shipmentStatus]))
      .to.deep.equal([['r-silent', 'label_created'], ['r-moving', 'in_transit']]);
    expect((await staleReturnParcels(knex, { olderThanMs: 6 * HOUR, now: later, limit: 1 })).map((s) => s.returnId)).to.deep.equal(['r-silent']);
  });
});
