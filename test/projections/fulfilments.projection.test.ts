import { expect } from 'chai';
import type { Knex } from 'knex';
import { fulfilmentsProjection } from '../../projections/fulfilments.projection.js';
import { UnappliableEvent } from '../../projections/projection.js';
import {
  findFulfilment, fulfilmentByTracking, fulfilmentQueue, fulfilmentsCreatedToday, staleShipments, transfersOfOrder,
} from '../../read-side/fulfilments.queries.js';
import { fold } from '../../write-side/decider.js';
import { fulfilmentDecider, fulfilmentStream } from '../../write-side/fulfilments/fulfilment.decider.js';
import type { FulfilmentEvent, FulfilmentKind, FulfilmentLine, Quote, ShipmentLabel, ShipmentStatus } from '../../write-side/fulfilments/fulfilment.events.js';
import type { Delivery } from '../../write-side/orders/order.events.js';
import type { Recorded } from '../../write-side/to-domain.js';
import { NOW } from '../support/given-when-then.js';
import { recordedLog } from '../support/recorded-events.js';
import { readModelWorld } from '../support/world.js';

const t = (seconds: number) => new Date(Date.parse(NOW) + seconds * 1000).toISOString();
const shipTo: Delivery = { method: 'ship', speed: 'express', address: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' } };
const QUOTE: Quote = { carrierId: 'parcelnet', service: 'express', amount: 1290, currency: 'USD', transitDays: 1, estimatedDelivery: '2026-11-27' };
const lines: FulfilmentLine[] = [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }];

/** The events of one fulfilment; `heard` is when the service recorded each (a tracking update's own `at` is the carrier's). */
function fulfilment(fulfilmentId: string, locationId: string, kind: FulfilmentKind = 'ship') {
  const ids = { fulfilmentId, orderId: `o-${fulfilmentId}`, locationId };
  const label: ShipmentLabel = {
    shipmentId: fulfilmentId, carrierId: 'parcelnet', service: 'express', trackingNumber: `PN-${fulfilmentId}`, labelUrl: `https://labels.example/${fulfilmentId}.pdf`,
    cost: 1290, currency: 'USD', estimatedDelivery: '2026-11-27', choice: { why: 'fastest', quotes: [QUOTE], unavailable: ['jetexpress'] },
  };
  return {
    created: (s: number): FulfilmentEvent => ({
      type: 'FulfilmentCreated',
      data: { ...ids, kind, lines, delivery: kind === 'ship' ? shipTo : { method: 'pickup', locationId }, allocationSeq: 0, at: t(s) },
    }),
    picked: (s: number, picked: FulfilmentLine[] = lines, short: FulfilmentLine[] = []): FulfilmentEvent => ({ type: 'FulfilmentPicked', data: { ...ids, picked, short, at: t(s) } }),
    rejected: (s: number): FulfilmentEvent => ({ type: 'FulfilmentRejected', data: { ...ids, reason: 'too busy', lines, at: t(s) } }),
    packed: (s: number, packed: FulfilmentLine[] = lines): FulfilmentEvent => ({
      type: 'FulfilmentPacked', data: { ...ids, packages: [{ weightGrams: 800, lengthCm: 30, widthCm: 20, heightCm: 10, lines: packed }], at: t(s) },
    }),
    labelled: (s: number): FulfilmentEvent => ({ type: 'FulfilmentLabelled', data: { ...ids, label, at: t(s) } }),
    shipped: (s: number, shippedLines: FulfilmentLine[] = lines): FulfilmentEvent => ({
      type: 'FulfilmentShipped', data: { ...ids, lines: shippedLines, trackingNumber: label.trackingNumber, carrierId: 'parcelnet', at: t(s) },
    }),
    tracked: (carrierTime: string, status: ShipmentStatus, moved = true): FulfilmentEvent => ({
      type: 'ShipmentTracked',
      data: { fulfilmentId, orderId: ids.orderId, shipmentId: fulfilmentId, carrierId: 'parcelnet', trackingNumber: label.trackingNumber, status, at: carrierTime, location: 'Springfield', moved },
    }),
    ready: (s: number): FulfilmentEvent => ({ type: 'FulfilmentReadyForPickup', data: { ...ids, code: '482913', readyAt: t(s), expiresAt: t(s + 72 * 3600), at: t(s) } }),
    collected: (s: number): FulfilmentEvent => ({ type: 'FulfilmentCollected', data: { ...ids, lines, at: t(s) } }),
    expired: (s: number): FulfilmentEvent => ({ type: 'FulfilmentExpired', data: { ...ids, lines, at: t(s) } }),
    cancelled: (s: number): FulfilmentEvent => ({ type: 'FulfilmentCancelled', data: { ...ids, reason: 'order cancelled', at: t(s) } }),
    chosen: (s: number, attempt: number): FulfilmentEvent => ({
      type: 'FulfilmentCarrierChosen',
      data: { ...ids, decision: { attempt, quote: QUOTE, choice: { why: 'fastest', quotes: [QUOTE], unavailable: [] }, from: { locationId, geo: { lat: 0, lon: 0 }, cutoffHour: 16 }, readyAt: t(s) }, at: t(s) },
    }),
    refused: (s: number, attempt: number): FulfilmentEvent => ({
      type: 'LabelPurchaseRefused', data: { ...ids, attempt, carrierId: 'parcelnet', service: 'express', code: 'address_not_serviceable', reason: 'not there', at: t(s) },
    }),
    labelFailed: (s: number, attempt: number): FulfilmentEvent => ({
      type: 'LabelPurchaseFailed', data: { ...ids, attempt, carrierId: null, code: 'no_carrier', reason: 'every carrier refused the label: parcelnet', refusedBy: ['parcelnet'], at: t(s) },
    }),
    labelCancelled: (s: number): FulfilmentEvent => ({ type: 'LabelCancelled', data: { ...ids, carrierId: 'parcelnet', trackingNumber: label.trackingNumber, at: t(s) } }),
  };
}

const shortOne = [{ sku: 'SKU-1', quantity: 1 }];
const a = fulfilment('f-a', 'wh-1');
const b = fulfilment('f-b', 'store-1', 'pickup');
const c = fulfilment('f-c', 'wh-1');
const d = fulfilment('f-d', 'wh-1');
const e = fulfilment('f-e', 'wh-2');
const x = fulfilment('f-x', 'store-1', 'pickup');
const y = fulfilment('f-y', 'wh-1');
const g = fulfilment('f-g', 'wh-3');
const k = fulfilment('f-k', 'wh-3');

// A pickup at store-9 waiting for two transfers (f-t from wh-9, f-u from wh-8), extended with a
// third (f-v from wh-7) when f-u will not come; f-t is short-picked and brings 1 of its 2 units.
const atStore9: Delivery = { method: 'pickup', locationId: 'store-9' };
const route = { to: 'store-9', pickupFulfilmentId: 'f-p' };
const tIds = { fulfilmentId: 'f-t', orderId: 'o-f-p', locationId: 'wh-9' };
const pIds = { fulfilmentId: 'f-p', orderId: 'o-f-p', locationId: 'store-9' };
const one = [{ sku: 'SKU-1', quantity: 1 }];
const inboundT = { fulfilmentId: 'f-t', from: 'wh-9', lines: [{ sku: 'SKU-1', quantity: 2 }] };
const inboundU = { fulfilmentId: 'f-u', from: 'wh-8', lines: [{ sku: 'SKU-2', quantity: 1 }] };
const inboundV = { fulfilmentId: 'f-v', from: 'wh-7', lines: [{ sku: 'SKU-2', quantity: 1 }] };
const transferEvents: FulfilmentEvent[] = [
  { type: 'FulfilmentCreated', data: { ...tIds, kind: 'transfer', lines: inboundT.lines, delivery: atStore9, allocationSeq: 0, transfer: route, at: t(6) } },
  { type: 'FulfilmentPicked', data: { ...tIds, picked: one, short: one, at: t(16) } },
  { type: 'FulfilmentPacked', data: { ...tIds, packages: [{ weightGrams: 500, lengthCm: 20, widthCm: 20, heightCm: 10, lines: one }], at: t(26) } },
  { type: 'TransferShipped', data: { ...tIds, ...route, lines: one, at: t(36) } },
  { type: 'TransferReceived', data: { ...tIds, ...route, lines: one, at: t(46) } },
];
const pickupEvents: FulfilmentEvent[] = [
  { type: 'FulfilmentCreated', data: { ...pIds, kind: 'pickup', lines, delivery: atStore9, allocationSeq: 0, inbound: [inboundT, inboundU], at: t(7) } },
  { type: 'PickupExtended', data: { ...pIds, allocationSeq: 1, lines: inboundV.lines, inbound: [inboundV], at: t(17) } },
  { type: 'PickupTransferDropped', data: { ...pIds, transferId: 'f-u', from: 'wh-8', lines: inboundU.lines, reason: 'rejected at wh-8: too busy', at: t(27) } },
  { type: 'PickupTransferArrived', data: { ...pIds, transferId: 'f-t', from: 'wh-9', lines: one, at: t(47) } },
];

/** Each fulfilment's history as its decider records it, each event with when the service heard of it (seconds after NOW). */
const HISTORIES: [FulfilmentEvent, number][][] = [
  [[a.created(0), 0], [a.picked(10, [shortOne[0], lines[1]], shortOne), 10], [a.packed(20, [shortOne[0], lines[1]]), 20], [a.labelled(30), 30],
    [a.tracked(t(100), 'in_transit'), 101], [a.shipped(110, [shortOne[0], lines[1]]), 110], [a.tracked(t(300), 'delivered'), 302],
    [a.tracked(t(200), 'out_for_delivery', false), 400]],
  [[b.created(1), 1], [b.picked(11), 11], [b.ready(21), 21], [b.collected(31), 31]],
  [[c.created(2), 2], [c.rejected(12), 12]],
  [[d.created(3), 3], [d.picked(13), 13], [d.packed(23), 23], [d.labelled(33), 33]],
  [[e.created(4), 4], [e.cancelled(14), 14]],
  [[x.created(5), 5], [x.picked(15), 15], [x.ready(25), 25], [x.expired(35), 35]],
  [[y.created(-86_400), -86_400]],
  [[g.created(6), 6], [g.picked(16), 16], [g.packed(26), 26], [g.chosen(36, 1), 36], [g.refused(46, 1), 46], [g.labelFailed(56, 1), 56]],
  [[k.created(7), 7], [k.picked(17), 17], [k.packed(27), 27], [k.chosen(37, 1), 37], [k.labelled(47), 47], [k.cancelled(57), 57], [k.labelCancelled(67), 67]],
  transferEvents.map((ev): [FulfilmentEvent, number] => [ev, (Date.parse(ev.data.at) - Date.parse(NOW)) / 1000]),
  pickupEvents.map((ev): [FulfilmentEvent, number] => [ev, (Date.parse(ev.data.at) - Date.parse(NOW)) / 1000]),
];

/** The histories interleaved as the log would hold them. */
function theLog(): Recorded<FulfilmentEvent>[] {
  const record = recordedLog();
  const log: Recorded<FulfilmentEvent>[] = [];
  for (let i = 0; HISTORIES.some((h) => i < h.length); i++) {
    for (const h of HISTORIES) {
      if (i >= h.length) continue;
      const [event, heard] = h[i];
      log.push(...record(fulfilmentStream(event.data.fulfilmentId), event).map((r) => ({ ...r, recordedAt: new Date(t(heard)) })));
    }
  }
  return log;
}

async function rows(knex: Knex) {
  return {
    fulfilments: await knex('fulfilments').select().orderBy('fulfilment_id'),
    timeline: await knex('fulfilment_timeline').select().orderBy(['fulfilment_id', 'position']),
  };
}

describe('fulfilments projection', function () {
  this.timeout(30_000);
  const log = theLog();
  let oneByOne: Awaited<ReturnType<typeof readModelWorld>>;
  /** The status of each fulfilment after each event applied one at a time, with what its decider's state says. */
  const statuses: { fulfilmentId: string; type: string; row: string; decider: string }[] = [];

  before(async () => {
    oneByOne = await readModelWorld();
    for (const ev of log) {
      await oneByOne.knex.transaction((trx) => fulfilmentsProjection.apply(ev, trx));
      const history = log.filter((h) => h.data.fulfilmentId === ev.data.fulfilmentId && h.position <= ev.position);
      const row = await oneByOne.knex('fulfilments').where({ fulfilment_id: ev.data.fulfilmentId }).first('status');
      statuses.push({ fulfilmentId: ev.data.fulfilmentId, type: ev.type, row: row.status, decider: fold(fulfilmentDecider, history).status });
    }
  });
  after(async () => { await oneByOne.cleanup(); });

  const row = (id: string) => oneByOne.knex('fulfilments').where({ fulfilment_id: id }).first();

  it('gives every fulfilment after every event the status its decider gives it', () => {
    expect(statuses.filter((s) => s.row !== s.decider)).to.deep.equal([]);
    expect(new Set(statuses.map((s) => s.row))).to.deep.equal(new Set(['pending', 'picking', 'packed', 'labelled', 'shipped', 'in_transit', 'received', 'ready_for_pickup', 'collected', 'expired', 'rejected', 'cancelled']));
  });

  it('holds a transfer with its way to the pickup store: when it left and when it arrived', async () => {
    const r = await row('f-t');
    expect(r).to.deep.include({ kind: 'transfer', status: 'received', location_id: 'wh-9', lines: [{ sku: 'SKU-1', quantity: 2, picked: 1 }], inbound: [] });
    expect(r.transfer).to.deep.equal({ to: 'store-9', pickupFulfilmentId: 'f-p', shippedAt: t(36), receivedAt: t(46) });
  });

  it('holds a pickup with the transfers it waits for, as its decider folds them: extended, one dropped, one arrived short', async () => {
    const r = await row('f-p');
    const decided = fold(fulfilmentDecider, pickupEvents) as { lines: unknown; inbound: unknown };
    expect(r.lines).to.deep.equal([{ sku: 'SKU-1', quantity: 1, picked: null }, { sku: 'SKU-2', quantity: 1, picked: null }]);
    expect(r.lines.map(({ sku, quantity }: { sku: string; quantity: number }) => ({ sku, quantity }))).to.deep.equal(decided.lines);
    expect(r.inbound).to.deep.equal(decided.inbound);
    expect(r.inbound.map((x: { fulfilmentId: string; status: string }) => `${x.fulfilmentId}:${x.status}`)).to.deep.equal(['f-t:arrived', 'f-u:dropped', 'f-v:awaited']);
    expect((await findFulfilment(oneByOne.knex, 'f-p'))!.inbound).to.deep.equal(r.inbound);
    expect(await transfersOfOrder(oneByOne.knex, 'o-f-p')).to.deep.equal([{
      fulfilmentId: 'f-t', from: 'wh-9', to: 'store-9', pickupFulfilmentId: 'f-p', status: 'received', lines: one, shippedAt: t(36), receivedAt: t(46),
    }]);
  });

  it('holds a shipped fulfilment with what was picked, its packages and its shipment: the label, the tracking history and the status the newest update gives', async () => {
    const r = await row('f-a');
    expect(r).to.deep.include({
      order_id: 'o-f-a', location_id: 'wh-1', kind: 'ship', status: 'shipped', allocation_seq: 0, delivery: shipTo,
      lines: [{ sku: 'SKU-1', quantity: 2, picked: 1 }, { sku: 'SKU-2', quantity: 1, picked: 1 }],
      packages: [{ weightGrams: 800, lengthCm: 30, widthCm: 20, heightCm: 10, lines: [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }] }],
      carrier_id: 'parcelnet', tracking_number: 'PN-f-a', shipment_status: 'delivered', created_position: 1,
      created_at: new Date(t(0)), updated_at: new Date(t(400)), last_tracking_at: new Date(t(400)),
    });
    expect(r.shipment).to.deep.equal({
      shipmentId: 'f-a', fulfilmentId: 'f-a', locationId: 'wh-1', carrierId: 'parcelnet', service: 'express', trackingNumber: 'PN-f-a',
      labelUrl: 'https://labels.example/f-a.pdf', cost: 1290, currency: 'USD', estimatedDelivery: '2026-11-27',
      lines: [{ sku: 'SKU-1', quantity: 1 }, { sku: 'SKU-2', quantity: 1 }],
      choice: { why: 'fastest', quotes: [QUOTE], unavailable: ['jetexpress'] },
      status: 'delivered', labelledAt: t(30), shippedAt: t(110),
      events: [
        { at: t(100), status: 'in_transit', location: 'Springfield', moved: true },
        { at: t(300), status: 'delivered', location: 'Springfield', moved: true },
        { at: t(200), status: 'out_for_delivery', location: 'Springfield', moved: false },
      ],
    });
  });

  it('keeps the pickup times without the code, the rejection with its lines and the cancellation', async () => {
    expect(await row('f-b')).to.deep.include({ status: 'collected', pickup: { readyAt: t(21), expiresAt: t(21 + 72 * 3600), collectedAt: t(31) }, shipment: null });
    expect(await row('f-x')).to.deep.include({ status: 'expired', pickup: { readyAt: t(25), expiresAt: t(25 + 72 * 3600), expiredAt: t(35) } });
    expect(await row('f-c')).to.deep.include({ status: 'rejected', rejection: { reason: 'too busy', lines, at: t(12) } });
    expect(await row('f-e')).to.deep.include({ status: 'cancelled', cancellation: { reason: 'order cancelled', at: t(14) } });
    const timeline = await oneByOne.knex('fulfilment_timeline').where({ fulfilment_id: 'f-b' }).orderBy('position').select('type', 'details');
    expect(timeline.map((r) => r.type)).to.deep.equal(['FulfilmentCreated', 'FulfilmentPicked', 'FulfilmentReadyForPickup', 'FulfilmentCollected']);
    expect(JSON.stringify(timeline)).to.not.include('482913');
  });

  it('keeps why the label job gave up on a packed fulfilment, with the refusals before it on the timeline', async () => {
    expect(await row('f-g')).to.deep.include({
      status: 'packed', label_failure: { attempt: 1, carrierId: null, code: 'no_carrier', reason: 'every carrier refused the label: parcelnet', refusedBy: ['parcelnet'], at: t(56) },
    });
    const f = await findFulfilment(oneByOne.knex, 'f-g');
    expect(f!.labelFailure).to.include({ code: 'no_carrier', at: t(56) });
    expect(f!.timeline.slice(3)).to.deep.equal([
      { at: t(36), type: 'FulfilmentCarrierChosen', attempt: 1, carrierId: 'parcelnet', service: 'express', amount: 1290, why: 'fastest', unavailable: [] },
      { at: t(46), type: 'LabelPurchaseRefused', attempt: 1, carrierId: 'parcelnet', service: 'express', code: 'address_not_serviceable', reason: 'not there' },
      { at: t(56), type: 'LabelPurchaseFailed', attempt: 1, carrierId: null, code: 'no_carrier', reason: 'every carrier refused the label: parcelnet', refusedBy: ['parcelnet'] },
    ]);
    const queue = await fulfilmentQueue(oneByOne.knex, { locationId: 'wh-3', status: 'packed', limit: 10 });
    expect(queue.fulfilments.map((x) => [x.fulfilmentId, x.labelFailure?.code])).to.deep.equal([['f-g', 'no_carrier']]);
  });

  it('marks a cancelled fulfilment\'s shipment with when its label was voided', async () => {
    const f = await findFulfilment(oneByOne.knex, 'f-k');
    expect(f).to.deep.include({ status: 'cancelled', labelFailure: null });
    expect(f!.shipment).to.deep.include({ trackingNumber: 'PN-f-k', cancelledAt: t(67) });
    expect(f!.timeline.at(-1)).to.deep.equal({ at: t(67), type: 'LabelCancelled', carrierId: 'parcelnet', trackingNumber: 'PN-f-k' });
    expect((await findFulfilment(oneByOne.knex, 'f-d'))!.shipment).to.deep.include({ cancelledAt: null });
  });

  it('ends with the same rows when several changes to one fulfilment arrive in one batch', async () => {
    const expected = await rows(oneByOne.knex);
    for (const size of [log.length, 3]) {
      const batched = await readModelWorld();
      try {
        for (let i = 0; i < log.length; i += size) await batched.knex.transaction((trx) => fulfilmentsProjection.applyBatch!(log.slice(i, i + size), trx));
        expect(await rows(batched.knex), `batches of ${size}`).to.deep.equal(expected);
      } finally {
        await batched.cleanup();
      }
    }
  });

  it('refuses a change to a fulfilment it does not hold, so the runner records it', async () => {
    const last = log[log.length - 1];
    const stray = { ...last, data: { ...last.data, fulfilmentId: 'f-unknown' }, position: log.length + 1 } as Recorded<FulfilmentEvent>;
    let err: unknown;
    await oneByOne.knex.transaction((trx) => fulfilmentsProjection.apply(stray, trx)).catch((caught) => { err = caught; });
    expect(err).to.be.instanceOf(UnappliableEvent);
    expect(await oneByOne.knex('fulfilment_timeline').where({ fulfilment_id: 'f-unknown' }).count('* as n').first()).to.deep.equal({ n: 0 });
  });

  describe('queries', () => {
    it('lists a location\'s queue in the order the log gave it its fulfilments, by status, a page at a time', async () => {
      const knex = oneByOne.knex;
      const all = await fulfilmentQueue(knex, { locationId: 'wh-1', limit: 10 });
      expect(all.fulfilments.map((f) => f.fulfilmentId)).to.deep.equal(['f-a', 'f-c', 'f-d', 'f-y']);
      expect(all.next).to.equal(null);
      const first = await fulfilmentQueue(knex, { locationId: 'wh-1', limit: 2 });
      expect(first.fulfilments.map((f) => f.fulfilmentId)).to.deep.equal(['f-a', 'f-c']);
      const second = await fulfilmentQueue(knex, { locationId: 'wh-1', limit: 2, after: first.next! });
      expect(second.fulfilments.map((f) => f.fulfilmentId)).to.deep.equal(['f-d', 'f-y']);
      expect(second.next).to.equal(null);
      const labelled = await fulfilmentQueue(knex, { locationId: 'wh-1', status: 'labelled', limit: 10 });
      expect(labelled.fulfilments).to.deep.equal([{
        fulfilmentId: 'f-d', orderId: 'o-f-d', locationId: 'wh-1', kind: 'ship', status: 'labelled',
        lines: [{ sku: 'SKU-1', quantity: 2, picked: 2 }, { sku: 'SKU-2', quantity: 1, picked: 1 }], labelFailure: null, createdAt: t(3), updatedAt: t(33),
      }]);
    });

    it('shows one fulfilment with its shipment\'s history in carrier time and its timeline', async () => {
      const f = await findFulfilment(oneByOne.knex, 'f-a');
      expect(f).to.deep.include({ fulfilmentId: 'f-a', orderId: 'o-f-a', locationId: 'wh-1', kind: 'ship', status: 'shipped', pickup: null });
      expect(f!.shipment!.status).to.equal('delivered');
      expect(f!.shipment!.events).to.deep.equal([
        { at: t(100), status: 'in_transit', location: 'Springfield' },
        { at: t(200), status: 'out_for_delivery', location: 'Springfield' },
        { at: t(300), status: 'delivered', location: 'Springfield' },
      ]);
      expect(f!.timeline.map((e) => e.type)).to.deep.equal([
        'FulfilmentCreated', 'FulfilmentPicked', 'FulfilmentPacked', 'FulfilmentLabelled', 'ShipmentTracked', 'FulfilmentShipped', 'ShipmentTracked', 'ShipmentTracked',
      ]);
      expect(f!.timeline[1]).to.deep.equal({ at: t(10), type: 'FulfilmentPicked', picked: [shortOne[0], lines[1]], short: shortOne });
      expect(await findFulfilment(oneByOne.knex, 'f-none')).to.equal(null);
    });

    it('finds the fulfilment of a carrier\'s tracking number, and nothing for another carrier', async () => {
      expect(await fulfilmentByTracking(oneByOne.knex, 'parcelnet', 'PN-f-d')).to.deep.equal({ fulfilmentId: 'f-d', orderId: 'o-f-d' });
      expect(await fulfilmentByTracking(oneByOne.knex, 'postal', 'PN-f-d')).to.equal(null);
    });

    it('lists the shipments not delivered that nothing was heard of for a while, longest silent first', async () => {
      const knex = oneByOne.knex;
      expect(await staleShipments(knex, { olderThanMs: 60_000, now: new Date(t(600)), limit: 10 })).to.deep.equal([
        { fulfilmentId: 'f-d', orderId: 'o-f-d', carrierId: 'parcelnet', trackingNumber: 'PN-f-d', shipmentStatus: 'label_created', lastTrackingAt: t(33) },
      ]);
      expect(await staleShipments(knex, { olderThanMs: 60_000, now: new Date(t(90)), limit: 10 })).to.deep.equal([]);
    });

    it('counts the fulfilments each location was given today', async () => {
      const today = async (at: string) => Object.fromEntries(await fulfilmentsCreatedToday(oneByOne.knex, new Date(at)));
      expect(await today(t(60))).to.deep.equal({ 'wh-1': 3, 'store-1': 2, 'wh-2': 1, 'wh-3': 2, 'wh-9': 1, 'store-9': 1 });
      expect(await today(t(-86_400))).to.deep.equal({ 'wh-1': 1 });
    });
  });
});
