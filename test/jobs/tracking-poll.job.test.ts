import { expect } from 'chai';
import type { Job } from 'bullmq';
import { CarrierRefused, CarrierUnavailable, type Carrier, type TrackingUpdate } from '../../carriers/carrier.port.js';
import { pollTracking, type StaleReturn, type StaleShipment, type TrackingPollDeps } from '../../jobs/tracking-poll.job.js';
import type { CommandMetadata } from '../../write-side/decider.js';
import { failure } from '../support/failure.js';

const update = (trackingNumber: string, status: TrackingUpdate['status'], at: string): TrackingUpdate => ({ trackingNumber, status, at, detail: status });

/** A carrier that answers the histories it is given, and fails as scripted per tracking number. */
function fakeCarrier(carrierId: string, histories: Record<string, TrackingUpdate[]>, fails: Record<string, Error[]> = {}): Carrier & { asked: string[] } {
  const asked: string[] = [];
  return {
    carrierId, name: carrierId, services: [], asked,
    async track(trackingNumber) {
      asked.push(trackingNumber);
      const err = fails[trackingNumber]?.shift();
      if (err) throw err;
      if (!histories[trackingNumber]) throw new CarrierRefused(carrierId, 'unknown_tracking_number', 'no such label');
      return histories[trackingNumber];
    },
    quote: async () => { throw new Error('not here'); },
    buyLabel: async () => { throw new Error('not here'); },
    cancelLabel: async () => { throw new Error('not here'); },
  };
}

const POLL = { id: 'poll-7', name: 'poll', data: {} } as unknown as Job;
const shipment = (n: number, carrierId: string): StaleShipment => ({ fulfilmentId: `f-${n}`, orderId: `o-${n}`, carrierId, trackingNumber: `T${n}` });
const returnParcel = (n: number, carrierId: string): StaleReturn => ({ returnId: `r-${n}`, orderId: `o-${n}`, carrierId, trackingNumber: `T${n}` });

describe('the tracking poll job', () => {
  const histories = {
    T1: [update('T1', 'label_created', '2026-11-24T10:00:00.000Z'), update('T1', 'in_transit', '2026-11-24T16:00:00.000Z')],
    T2: [update('T2', 'label_created', '2026-11-24T11:00:00.000Z'), update('T2', 'in_transit', '2026-11-24T16:00:00.000Z'), update('T2', 'delivered', '2026-11-26T13:00:00.000Z')],
  };
  let recorded: { fulfilmentId: string; update: TrackingUpdate & { carrierId: string }; metadata: CommandMetadata }[];
  let returnsRecorded: { returnId: string; update: TrackingUpdate & { carrierId: string }; metadata: CommandMetadata }[];
  let limits: number[];
  let stale: StaleShipment[];
  let staleReturns: StaleReturn[];
  const deps = (carriers: Carrier[]): TrackingPollDeps => ({
    carriers,
    staleShipments: async (limit) => { limits.push(limit); return stale; },
    recordTracking: async (fulfilmentId, u, metadata) => { recorded.push({ fulfilmentId, update: u, metadata }); },
    staleReturns: async (limit) => { limits.push(limit); return staleReturns; },
    recordReturnTracking: async (returnId, u, metadata) => { returnsRecorded.push({ returnId, update: u, metadata }); },
    now: () => new Date('2026-11-26T14:00:00.000Z'),
    batchSize: 50,
  });
  beforeEach(() => { recorded = []; returnsRecorded = []; limits = []; stale = [shipment(1, 'parcelnet'), shipment(2, 'jetexpress')]; staleReturns = []; });
  const sent = (fulfilmentId: string) => recorded.filter((r) => r.fulfilmentId === fulfilmentId).map((r) => r.update.status);

  it('asks the carrier about each stale shipment and sends every update it answers, oldest first, with the carrier and the job as actor', async () => {
    await pollTracking(POLL, deps([fakeCarrier('parcelnet', histories), fakeCarrier('jetexpress', histories)]));
    expect(limits).to.deep.equal([50, 50]);
    expect(sent('f-1')).to.deep.equal(['label_created', 'in_transit']);
    expect(sent('f-2')).to.deep.equal(['label_created', 'in_transit', 'delivered']);
    expect(recorded[0].update).to.deep.equal({ carrierId: 'parcelnet', ...histories.T1[0] });
    expect(recorded[0].metadata).to.deep.equal({ now: '2026-11-26T14:00:00.000Z', correlationId: 'o-1', causationId: 'poll-7', actor: { kind: 'job', id: 'tracking-poll/poll-7' } });
  });

  it('records the other shipments when a carrier does not answer, then fails to be retried; the retry sends them again, which is safe', async () => {
    const jet = fakeCarrier('jetexpress', histories, { T2: [new CarrierUnavailable('jetexpress', 'down')] });
    const carriers = [fakeCarrier('parcelnet', histories), jet];
    const err = await failure(pollTracking(POLL, deps(carriers)));
    expect((err as Error).message).to.match(/^tracking of 1 of 2 shipments could not be polled: jetexpress T2: down/);
    expect(sent('f-1')).to.deep.equal(['label_created', 'in_transit']);
    expect(sent('f-2')).to.deep.equal([]);
    await pollTracking(POLL, deps(carriers));
    expect(sent('f-2')).to.deep.equal(['label_created', 'in_transit', 'delivered']);
    expect(jet.asked).to.deep.equal(['T2', 'T2']);
  });

  it('fails the run when an update cannot be recorded, having polled the rest', async () => {
    const d = deps([fakeCarrier('parcelnet', histories), fakeCarrier('jetexpress', histories)]);
    const record = d.recordTracking;
    d.recordTracking = async (fulfilmentId, u, m) => { if (fulfilmentId === 'f-1') throw new Error('database down'); await record(fulfilmentId, u, m); };
    expect(((await failure(pollTracking(POLL, d))) as Error).message).to.match(/parcelnet T1: database down/);
    expect(sent('f-2')).to.have.length(3);
  });

  it('passes over a tracking number the carrier does not know and a carrier no longer configured, without failing', async () => {
    stale = [shipment(1, 'parcelnet'), shipment(3, 'parcelnet'), shipment(4, 'pigeonpost')];
    await pollTracking(POLL, deps([fakeCarrier('parcelnet', histories)]));
    expect(recorded.map((r) => r.fulfilmentId)).to.deep.equal(['f-1', 'f-1']);
  });

  it('polls return parcels on their way back beside the outbound shipments, and records their updates on the return', async () => {
    stale = [shipment(1, 'parcelnet')];
    staleReturns = [returnParcel(2, 'jetexpress')];
    await pollTracking(POLL, deps([fakeCarrier('parcelnet', histories), fakeCarrier('jetexpress', histories)]));
    expect(sent('f-1')).to.deep.equal(['label_created', 'in_transit']);
    expect(recorded.map((r) => r.fulfilmentId)).to.not.include('r-2');
    expect(returnsRecorded.map((r) => [r.returnId, r.update.status])).to.deep.equal([['r-2', 'label_created'], ['r-2', 'in_transit'], ['r-2', 'delivered']]);
    expect(returnsRecorded[0].update).to.deep.equal({ carrierId: 'jetexpress', ...histories.T2[0] });
    expect(returnsRecorded[0].metadata).to.deep.include({ correlationId: 'o-2', actor: { kind: 'job', id: 'tracking-poll/poll-7' } });
  });

  it('a return parcel whose carrier does not answer fails the run like a shipment, once the rest are polled', async () => {
    stale = [shipment(1, 'parcelnet')];
    staleReturns = [returnParcel(2, 'jetexpress')];
    const jet = fakeCarrier('jetexpress', histories, { T2: [new CarrierUnavailable('jetexpress', 'down')] });
    const err = await failure(pollTracking(POLL, deps([fakeCarrier('parcelnet', histories), jet])));
    expect((err as Error).message).to.match(/^tracking of 1 of 2 shipments could not be polled: jetexpress T2: down/);
    expect(sent('f-1')).to.have.length(2);
    expect(returnsRecorded).to.deep.equal([]);
  });
});
