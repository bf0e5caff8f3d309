import type { Job } from 'bullmq';
import { CarrierRefused, type Carrier, type TrackingUpdate } from '../carriers/carrier.port.js';
import type { CommandMetadata } from '../write-side/decider.js';

// Carriers miss webhooks: shipments with no tracking update for a while are asked about, the
// parcels going out to customers and the returns coming back alike. Every update the carrier
// answers is sent, oldest first; recording an update already known records nothing, so asking
// again (a retried or overlapping poll) is safe.

export interface StaleShipment { fulfilmentId: string; orderId: string; carrierId: string; trackingNumber: string }
export interface StaleReturn { returnId: string; orderId: string; carrierId: string; trackingNumber: string }

export interface TrackingPollDeps {
  carriers: readonly Carrier[];
  /** Shipments not delivered with no tracking update for the configured time, at most `limit`. */
  staleShipments(limit: number): Promise<StaleShipment[]>;
  recordTracking(fulfilmentId: string, update: TrackingUpdate & { carrierId: string }, metadata: CommandMetadata): Promise<void>;
  /** Return parcels on their way back, not delivered, with no tracking update for the configured time, at most `limit`. */
  staleReturns(limit: number): Promise<StaleReturn[]>;
  recordReturnTracking(returnId: string, update: TrackingUpdate & { carrierId: string }, metadata: CommandMetadata): Promise<void>;
  now(): Date;
  /** Shipments per run (default 500, and as many returns) and carrier calls at once (default 16). */
  batchSize?: number;
  concurrency?: number;
}

type RecordUpdate = (update: TrackingUpdate & { carrierId: string }, metadata: CommandMetadata) => Promise<void>;
interface Parcel { orderId: string; carrierId: string; trackingNumber: string; record: RecordUpdate }

/**
 * Polls the stale shipments and return parcels. One whose carrier does not answer, or whose
 * update could not be recorded, fails the run (to be retried with backoff) once the others are
 * done; one whose carrier does not know the tracking number, or is no longer configured, is
 * passed over: asking again cannot change that.
 */
export async function pollTracking(job: Job, deps: TrackingPollDeps): Promise<void> {
  const limit = deps.batchSize ?? 500;
  const [shipments, returns] = await Promise.all([deps.staleShipments(limit), deps.staleReturns(limit)]);
  const parcels: Parcel[] = [
    ...shipments.map((s) => ({ ...s, record: (u, m) => deps.recordTracking(s.fulfilmentId, u, m) } satisfies Parcel)),
    ...returns.map((r) => ({ ...r, record: (u, m) => deps.recordReturnTracking(r.returnId, u, m) } satisfies Parcel)),
  ];
  const failed: string[] = [];
  const queue = [...parcels];
  const poll = async (s: Parcel) => {
    const carrier = deps.carriers.find((c) => c.carrierId === s.carrierId);
    if (!carrier) return;
    try {
      for (const update of await carrier.track(s.trackingNumber)) {
        await s.record({ carrierId: s.carrierId, ...update }, {
          now: deps.now().toISOString(), correlationId: s.orderId, causationId: String(job.id), actor: { kind: 'job', id: `tracking-poll/${job.id}` },
        });
      }
    } catch (err) {
      if (!(err instanceof CarrierRefused)) failed.push(`${s.carrierId} ${s.trackingNumber}: ${(err as Error).message}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 16, queue.length) }, async () => {
    for (let s = queue.shift(); s; s = queue.shift()) await poll(s);
  }));
  if (failed.length > 0) throw new Error(`tracking of ${failed.length} of ${parcels.length} shipments could not be polled: ${failed.slice(0, 5).join('; ')}`);
}
