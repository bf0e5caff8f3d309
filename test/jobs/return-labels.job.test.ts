import { expect } from 'chai';
import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import { CarrierUnavailable } from '../../carriers/carrier.port.js';
import { createSandboxCarriers, sandboxLabelAttempts, sandboxLabels, type SandboxCarrier } from '../../carriers/sandbox-carriers.js';
import { jobRoutes } from '../../jobs/dispatcher.js';
import { QUEUES } from '../../jobs/queues.js';
import { buyReturnLabel, type ReturnLabelDeps } from '../../jobs/return-labels.job.js';
import { SANDBOX_CARRIER_IDS, type SandboxFault } from '../../platform/config.js';
import type { WriteSide } from '../../write-side/commands.js';
import type { LocationDetails } from '../../write-side/locations/location.decider.js';
import type { Address } from '../../write-side/orders/order.events.js';
import { returnStream } from '../../write-side/returns/return.decider.js';
import type { OpenReturn } from '../../write-side/returns/return.state.js';
import type { Recorded } from '../../write-side/to-domain.js';
import { failure } from '../support/failure.js';
import { meta, NOW } from '../support/given-when-then.js';
import { aJob, jobWorld } from '../support/job-world.js';
import { readModelWorld } from '../support/world.js';

// The return label job with the real write side (in memory) and the real sandbox carriers (their
// records in PostgreSQL): what the carriers' own records hold after lost answers, crashes and
// runs at once is what counts.

const LEIPZIG: Address = { line1: '1 Main St', city: 'Leipzig', postalCode: '04109', country: 'DE', geo: { lat: 51.34, lon: 12.37 } };
const LOCATIONS = [
  { locationId: 'wh-berlin', name: 'Berlin DC', type: 'warehouse' as const, geo: { lat: 52.52, lon: 13.405 }, canShip: true, canPickup: false },     // 150 km
  { locationId: 'wh-munich', name: 'Munich DC', type: 'warehouse' as const, geo: { lat: 48.14, lon: 11.58 }, canShip: true, canPickup: false },      // 360 km
  { locationId: 'store-leipzig', name: 'Leipzig store', type: 'store' as const, geo: { lat: 51.34, lon: 12.38 }, canShip: true, canPickup: true }, // next door
];
/** Two units of SKU-1 and one of SKU-2 went out in one 3 kg box. */
const BOX = { weightGrams: 3000, lengthCm: 40, widthCm: 30, heightCm: 20, lines: [{ sku: 'SKU-1', quantity: 2 }, { sku: 'SKU-2', quantity: 1 }] };

/** An order shipped from wh-munich in BOX to `address` and delivered, with a return of one SKU-1 opened; answers the return and its job. */
async function aReturn(world: ReturnType<typeof jobWorld>, address: Address = LEIPZIG) {
  const { write } = world;
  const lines = [{ sku: 'SKU-1', quantity: 2, unitPrice: 2500 }, { sku: 'SKU-2', quantity: 1, unitPrice: 1000 }];
  const orderId = await world.placeOrder({ lines, delivery: { method: 'ship', speed: 'standard', address } });
  await write.recordFraudAssessment(orderId, { score: 0, decision: 'approve', reasons: [] }, meta());
  await write.recordPayment({ type: 'RecordPaymentAuthorization', data: { orderId, authorizationId: `auth-${orderId}`, amount: 6000 }, metadata: meta() });
  const units = lines.map(({ sku, quantity }) => ({ sku, quantity }));
  await write.recordAllocation({ orderId, allocations: [{ locationId: 'wh-munich', lines: units }], transfers: [], cost: 1, why: 'test', candidates: [] }, meta());
  const { fulfilmentId } = await write.createFulfilment({ orderId, locationId: 'wh-munich', kind: 'ship', lines: units, delivery: { method: 'ship', speed: 'standard', address }, allocationSeq: 0 }, meta());
  await write.recordPick(fulfilmentId, units, meta());
  await write.packFulfilment(fulfilmentId, [BOX], meta());
  await write.recordLabel(fulfilmentId, {
    shipmentId: fulfilmentId, carrierId: 'parcelnet', service: 'ground', trackingNumber: `PN-${fulfilmentId}`, labelUrl: 'https://labels/x', cost: 500, currency: 'EUR',
    estimatedDelivery: '2026-11-20', choice: { why: 'test', quotes: [], unavailable: [] },
  }, meta());
  await write.shipFulfilment(fulfilmentId, meta());
  await write.recordOrderFulfilment({ type: 'RecordFulfilmentShipped', data: { orderId, fulfilmentId, locationId: 'wh-munich', lines: units }, metadata: meta() });
  await write.recordOrderFulfilment({ type: 'RecordFulfilmentDelivered', data: { orderId, fulfilmentId }, metadata: meta() });
  const returnId = `r-${orderId.slice(0, 8)}`;
  await write.requestReturn({ orderId, returnId, lines: [{ sku: 'SKU-1', quantity: 1, reason: 'too small' }], resolution: 'refund', windowDays: 30 }, meta());
  const [opened] = await world.store.readStream(returnStream(returnId));
  return { orderId, returnId, job: (attemptsMade = 0) => aJob('ReturnOpened', { orderId, eventId: opened.id, returnId }, { made: attemptsMade }) };
}

describe('the return label job', function () {
  this.timeout(30_000);
  let knex: Knex;
  let cleanup: () => Promise<void>;
  before(async () => { ({ knex, cleanup } = await readModelWorld()); });
  after(async () => { await cleanup(); });

  let world: ReturnType<typeof jobWorld>;
  let clock: Date;
  let locations: LocationDetails[];
  const carriers = (faults: SandboxFault[] = []): SandboxCarrier[] => createSandboxCarriers(knex,
    { enabled: [...SANDBOX_CARRIER_IDS], sandbox: { latencyMs: 2, faults: Object.fromEntries(SANDBOX_CARRIER_IDS.map((id) => [id, faults])), clock: 1 } },
    { now: () => clock });
  const deps = (over: Partial<ReturnLabelDeps> = {}): ReturnLabelDeps => ({
    write: world.write, carriers: carriers(), locations: async () => locations, now: () => clock, quoteTimeoutMs: 2000,
    rules: { standardMaxDays: 5, preferences: { preferred: [], excluded: [], marginPercent: 0 } }, ...over,
  });
  const theReturn = async (returnId: string) => (await world.write.loadReturn(returnId)) as OpenReturn;
  const eventTypes = async (returnId: string) => (await world.store.readStream(returnStream(returnId))).map((e) => e.type);

  beforeEach(async () => {
    world = jobWorld();
    clock = new Date('2026-11-26T11:00:00.000Z');
    for (const l of LOCATIONS) await world.write.registerLocation(l, meta());
    locations = await Promise.all(LOCATIONS.map((l) => world.write.location(l.locationId)));
  });

  it('records the choice, then buys one label under return-label:<returnId> from the customer\'s address to the nearest warehouse, in the box the units came in', async () => {
    const r = await aReturn(world);
    await buyReturnLabel(r.job(), deps());
    expect(await eventTypes(r.returnId)).to.deep.equal(['ReturnOpened', 'ReturnCarrierChosen', 'ReturnLabelled']);
    const back = await theReturn(r.returnId);
    expect(back.status).to.equal('label_created');
    // The store next door ships too, but warehouses come first; Berlin is nearer than Munich, where the parcel came from.
    expect(back.carrierDecision!.to.locationId).to.equal('wh-berlin');
    expect(back.label).to.include({ locationId: 'wh-berlin', shipmentId: r.returnId, carrierId: back.carrierDecision!.quote.carrierId });
    expect(back.label!.choice.quotes.length).to.be.at.least(2);
    const labels = await sandboxLabels(knex, r.returnId);
    expect(labels.map((l) => [l.carrierId, l.trackingNumber, l.idempotencyKey])).to.deep.equal([[back.label!.carrierId, back.label!.trackingNumber, `return-label:${r.returnId}`]]);
    const [{ request }] = await knex('sandbox_carrier_labels').where({ reference: r.returnId }).select('request');
    expect(request.from).to.deep.equal({ locationId: 'customer-c-1', geo: LEIPZIG.geo, cutoffHour: 16 });
    expect(request.to).to.deep.include({ line1: 'Berlin DC', geo: LOCATIONS[0].geo });
    expect(request.packages, 'one of the three units in the box comes back: its size, a third of its weight').to.deep.equal([
      { weightGrams: 1000, lengthCm: 40, widthCm: 30, heightCm: 20, lines: [{ sku: 'SKU-1', quantity: 1 }] },
    ]);
    expect(request.readyAt).to.equal(clock.toISOString());
  });

  it('a lost label answer and a retry: the retry buys from the recorded carrier with the recorded request, and the carrier holds one label', async () => {
    const r = await aReturn(world);
    const lossy = carriers([{ fault: 'lose_once' }]);
    expect(await failure(buyReturnLabel(r.job(), deps({ carriers: lossy })))).to.be.instanceOf(CarrierUnavailable);
    const chosen = (await theReturn(r.returnId)).carrierDecision!;
    expect(chosen, 'the choice is recorded before the purchase').to.not.equal(null);
    expect((await theReturn(r.returnId)).label).to.equal(null);
    // By the retry a nearer warehouse has opened and the clock is past the cut-off: a new choice would differ.
    locations = [...locations, { ...locations[0], locationId: 'wh-leipzig', name: 'Leipzig DC', geo: { lat: 51.3, lon: 12.4 } }];
    clock = new Date('2026-11-26T18:00:00.000Z');
    await buyReturnLabel(r.job(1), deps({ carriers: lossy }));
    const back = await theReturn(r.returnId);
    expect(back.status).to.equal('label_created');
    expect(back.label).to.include({ locationId: 'wh-berlin', carrierId: chosen.quote.carrierId });
    const labels = await sandboxLabels(knex, r.returnId);
    expect(labels.map((l) => l.trackingNumber), 'labels at the carriers').to.deep.equal([back.label!.trackingNumber]);
    expect(await sandboxLabelAttempts(knex, chosen.quote.carrierId, `return-label:${r.returnId}`), 'the lost purchase and the retry').to.equal(2);
    expect((await eventTypes(r.returnId)).filter((t) => t !== 'ReturnOpened')).to.deep.equal(['ReturnCarrierChosen', 'ReturnLabelled']);
  });

  it('a worker killed between buying and recording: the retry records the one label the carrier made', async () => {
    const r = await aReturn(world);
    const dying: WriteSide = { ...world.write, recordReturnLabel: async () => { throw new Error('the worker died'); } };
    await failure(buyReturnLabel(r.job(), deps({ write: dying })));
    expect(await sandboxLabels(knex, r.returnId)).to.have.length(1);
    await buyReturnLabel(r.job(1), deps());
    const labels = await sandboxLabels(knex, r.returnId);
    expect(labels.map((l) => l.trackingNumber)).to.deep.equal([(await theReturn(r.returnId)).label!.trackingNumber]);
  });

  it('two runs at once buy by the one choice recorded first: one label at the carriers, recorded once', async () => {
    const r = await aReturn(world);
    await Promise.all([buyReturnLabel(r.job(), deps()), buyReturnLabel(r.job(), deps())]);
    expect(await sandboxLabels(knex, r.returnId)).to.have.length(1);
    expect((await eventTypes(r.returnId)).filter((t) => t !== 'ReturnOpened')).to.deep.equal(['ReturnCarrierChosen', 'ReturnLabelled']);
    await buyReturnLabel(r.job(), deps());                           // run again once labelled: nothing more
    expect(await sandboxLabels(knex, r.returnId)).to.have.length(1);
  });

  it('a return received before anything was chosen gets no label; one received while its label was bought has the label voided at the carrier', async () => {
    const early = await aReturn(world);
    const receive = (returnId: string) => world.write.receiveReturn({ returnId, receiptId: `rc-${returnId}`, locationId: 'wh-berlin', lines: [{ sku: 'SKU-1', quantity: 1, condition: 'resellable' }], receivedBy: 'op' }, meta());
    await receive(early.returnId);
    await buyReturnLabel(early.job(), deps());
    expect(await sandboxLabels(knex, early.returnId)).to.deep.equal([]);
    expect(await eventTypes(early.returnId)).to.deep.equal(['ReturnOpened', 'ReturnReceived']);

    const racing = await aReturn(world);
    const write: WriteSide = { ...world.write, recordReturnLabel: async (data, m) => { await receive(racing.returnId); return world.write.recordReturnLabel(data, m); } };
    await buyReturnLabel(racing.job(), deps({ write }));
    const back = await theReturn(racing.returnId);
    expect([back.status, back.label]).to.deep.equal(['received', null]);
    expect((await sandboxLabels(knex, racing.returnId)).map((l) => l.cancelled), 'the label at the carrier, voided').to.deep.equal([true]);
  });

  it('a return received after its carrier was chosen and before any label was recorded: the retry gets the label bought under its key and voids it', async () => {
    const r = await aReturn(world);
    const down = carriers([{ fault: 'fail_once' }]);
    expect(await failure(buyReturnLabel(r.job(), deps({ carriers: down })))).to.be.instanceOf(CarrierUnavailable);
    expect((await theReturn(r.returnId)).carrierDecision).to.not.equal(null);
    await world.write.receiveReturn({ returnId: r.returnId, receiptId: 'rc-1', locationId: 'wh-berlin', lines: [{ sku: 'SKU-1', quantity: 1, condition: 'damaged' }], receivedBy: 'op' }, meta());
    await buyReturnLabel(r.job(1), deps({ carriers: down }));
    expect((await sandboxLabels(knex, r.returnId)).map((l) => l.cancelled)).to.deep.equal([true]);
    expect((await theReturn(r.returnId)).label).to.equal(null);
  });

  it('fails for good, buying nothing, for an address without coordinates or when no active location ships', async () => {
    const { geo: _geo, ...nowhere } = LEIPZIG;
    const r = await aReturn(world, nowhere);
    expect(await failure(buyReturnLabel(r.job(), deps()))).to.be.instanceOf(UnrecoverableError);
    const other = await aReturn(world);
    locations = locations.map((l) => (l.type === 'warehouse' ? { ...l, active: false } : { ...l, canShip: false }));
    const err = await failure(buyReturnLabel(other.job(), deps()));
    expect(err).to.be.instanceOf(UnrecoverableError);
    expect((err as Error).message).to.match(/no active location that ships can receive return/);
    expect([...await sandboxLabels(knex, r.returnId), ...await sandboxLabels(knex, other.returnId)]).to.deep.equal([]);
    expect((await theReturn(other.returnId)).carrierDecision).to.equal(null);
  });

  it('is started by a return opened at the customer\'s address, on the labels queue; one brought back to a store gets no job', () => {
    const [route] = jobRoutes().filter((x) => x.eventType === 'ReturnOpened');
    const opened = (origin: unknown) => ({ id: 'e-1', type: 'ReturnOpened', position: 7, data: { returnId: 'r-1', orderId: 'o-1', origin, at: NOW } }) as unknown as Recorded;
    expect(route.queue).to.equal(QUEUES.labels);
    expect(route.when!(opened({ kind: 'address', address: LEIPZIG }))).to.equal(true);
    expect(route.when!(opened({ kind: 'store', locationId: 'store-leipzig' }))).to.equal(false);
    expect(route.data(opened({ kind: 'address', address: LEIPZIG }))).to.deep.include({ orderId: 'o-1', returnId: 'r-1', eventId: 'e-1' });
  });
});
