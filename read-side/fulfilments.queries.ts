import DataLoader from 'dataloader';
import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import type { StoredLine, StoredShipment, StoredTransfer } from '../projections/fulfilments.projection.js';
import type { Inbound } from '../write-side/fulfilments/fulfilment.state.js';

interface FulfilmentRow {
  fulfilment_id: string; order_id: string; location_id: string; kind: string; status: string; allocation_seq: number; delivery: unknown;
  lines: StoredLine[]; packages: unknown[]; shipment: StoredShipment | null; pickup: Record<string, string> | null;
  rejection: unknown; cancellation: unknown; label_failure: Record<string, unknown> | null; transfer: StoredTransfer | null; inbound: Inbound[];
  created_position: string | number; created_at: Date; updated_at: Date;
}

/** A fulfilment in a work queue; a transfer says where it goes. */
function summary(row: FulfilmentRow) {
  return {
    fulfilmentId: row.fulfilment_id,
    orderId: row.order_id,
    locationId: row.location_id,
    kind: row.kind,
    status: row.status,
    lines: row.lines,
    /** Why the label job gave up on this packed fulfilment (null unless it did and nobody has tried again). */
    labelFailure: row.label_failure ?? null,
    ...(row.transfer ? { transfer: row.transfer } : {}),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** An order's transfers to its pickup store, oldest first: where each comes from, what it carries and how far it got. */
export async function transfersOfOrder(knex: Knex, orderId: string) {
  const rows = await knex<FulfilmentRow>('fulfilments').where({ order_id: orderId, kind: 'transfer' }).orderBy('created_position');
  return rows.map((r) => ({
    fulfilmentId: r.fulfilment_id, from: r.location_id, to: r.transfer?.to ?? null, pickupFulfilmentId: r.transfer?.pickupFulfilmentId ?? null, status: r.status,
    lines: r.lines.map((l) => ({ sku: l.sku, quantity: l.picked ?? l.quantity })), shippedAt: r.transfer?.shippedAt ?? null, receivedAt: r.transfer?.receivedAt ?? null,
  }));
}

/** The carriers' side of an order's shipments (label, choice, status, tracking history), by fulfilment. */
export async function shipmentsOfOrder(knex: Knex, orderId: string): Promise<Map<string, ReturnType<typeof shipmentView>>> {
  const rows = await knex<FulfilmentRow>('fulfilments').where({ order_id: orderId }).whereNotNull('shipment').select('fulfilment_id', 'shipment');
  return new Map(rows.map((r) => [r.fulfilment_id, shipmentView(r.shipment!)]));
}

/** The shipment as the contract shows it: its tracking history in carrier time. */
function shipmentView(s: StoredShipment) {
  const events = [...s.events].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).map(({ moved: _moved, ...u }) => u);
  return { ...s, events, cancelledAt: s.cancelledAt ?? null };
}

export interface FulfilmentQueueFilter { locationId?: string; status?: string; limit: number; after?: number }

/** A location's work queue, oldest first; `after` is the cursor (`next`) of the previous page. */
export async function fulfilmentQueue(knex: Knex, f: FulfilmentQueueFilter) {
  const q = knex<FulfilmentRow>('fulfilments').orderBy('created_position').limit(f.limit + 1);
  if (f.locationId) q.where({ location_id: f.locationId });
  if (f.status) q.where({ status: f.status });
  if (f.after !== undefined) q.where('created_position', '>', f.after);
  const rows = await q;
  const page = rows.slice(0, f.limit);
  return { fulfilments: page.map(summary), next: rows.length > f.limit ? Number(page[page.length - 1].created_position) : null };
}

/** One fulfilment in the shape of GET /fulfilments/{id} (without the position, which the route adds); null when unknown. */
export async function findFulfilment(knex: Knex, fulfilmentId: string) {
  const row = await knex<FulfilmentRow>('fulfilments').where({ fulfilment_id: fulfilmentId }).first();
  if (!row) return null;
  const timeline = await knex('fulfilment_timeline').where({ fulfilment_id: fulfilmentId }).orderBy('position').select('at', 'type', 'details');
  return {
    ...summary(row),
    allocationSeq: row.allocation_seq,
    delivery: row.delivery,
    packages: row.packages,
    shipment: row.shipment && shipmentView(row.shipment),
    pickup: row.pickup,
    // A pickup's transfers: what each brings and whether it arrived; it is picked and ready once none is awaited.
    ...(row.kind === 'pickup' ? { inbound: row.inbound } : {}),
    rejection: row.rejection,
    cancellation: row.cancellation,
    timeline: timeline.map((t: { at: Date; type: string; details: Record<string, unknown> }) => ({ at: t.at.toISOString(), type: t.type, ...t.details })),
  };
}

/** The fulfilment a carrier's tracking number belongs to (for its webhooks), or null. */
export async function fulfilmentByTracking(knex: Knex, carrierId: string, trackingNumber: string): Promise<{ fulfilmentId: string; orderId: string } | null> {
  const row = await knex('fulfilments').where({ carrier_id: carrierId, tracking_number: trackingNumber }).first('fulfilment_id', 'order_id');
  return row ? { fulfilmentId: row.fulfilment_id, orderId: row.order_id } : null;
}

/** What ships under a tracking number: a fulfilment's parcel to the customer, or a return's on its way back. */
export interface TrackedShipment { kind: 'fulfilment' | 'return'; id: string; orderId: string }

/**
 * The shipment a carrier's tracking number belongs to, for many concurrent callers (carriers post
 * webhooks in bursts): the numbers asked for in the same tick are looked up in one query over
 * fulfilments and returns, and a number found is kept. A tracking number, once a shipment's, stays
 * that shipment's (the read models' unique indexes); one not found yet may be a label the
 * projection has not taken in, so it is asked again next time.
 */
export function batchedShipmentByTracking(knex: Knex, { max = 200_000 } = {}): (carrierId: string, trackingNumber: string) => Promise<TrackedShipment | null> {
  const found = new LRUCache<string, TrackedShipment>({ max });
  const key = (carrierId: string, trackingNumber: string) => `${carrierId}\u0000${trackingNumber}`;
  const loader = new DataLoader<{ carrierId: string; trackingNumber: string }, TrackedShipment | null>(async (asked) => {
    const carriers = asked.map((a) => a.carrierId);
    const numbers = asked.map((a) => a.trackingNumber);
    const { rows } = await knex.raw(`
      SELECT 'fulfilment' AS kind, f.carrier_id, f.tracking_number, f.fulfilment_id AS id, f.order_id
        FROM unnest(?::text[], ?::text[]) AS q(carrier_id, tracking_number)
        JOIN fulfilments f ON f.carrier_id = q.carrier_id AND f.tracking_number = q.tracking_number
      UNION ALL
      SELECT 'return', r.carrier_id, r.tracking_number, r.return_id, r.order_id
        FROM unnest(?::text[], ?::text[]) AS q(carrier_id, tracking_number)
        JOIN returns r ON r.carrier_id = q.carrier_id AND r.tracking_number = q.tracking_number`,
    [carriers, numbers, carriers, numbers]);
    for (const r of rows as { kind: TrackedShipment['kind']; carrier_id: string; tracking_number: string; id: string; order_id: string }[]) {
      found.set(key(r.carrier_id, r.tracking_number), { kind: r.kind, id: r.id, orderId: r.order_id });
    }
    return asked.map((a) => found.get(key(a.carrierId, a.trackingNumber)) ?? null);
  }, { cache: false, maxBatchSize: 1000 });
  return (carrierId, trackingNumber) => {
    const hit = found.get(key(carrierId, trackingNumber));
    return hit ? Promise.resolve(hit) : loader.load({ carrierId, trackingNumber });
  };
}

export interface StaleShipment { fulfilmentId: string; orderId: string; carrierId: string; trackingNumber: string; shipmentStatus: string; lastTrackingAt: string }

/**
 * Labelled or shipped shipments not yet delivered (nor returned) that the service has heard
 * nothing about for more than `olderThanMs` before `now`, longest silent first: the ones to ask
 * their carrier about.
 */
export async function staleShipments(knex: Knex, q: { olderThanMs: number; now: Date; limit: number }): Promise<StaleShipment[]> {
  const { rows } = await knex.raw(
    `SELECT fulfilment_id, order_id, carrier_id, tracking_number, shipment_status, last_tracking_at FROM fulfilments
      WHERE status IN ('labelled', 'shipped') AND shipment_status NOT IN ('delivered', 'returned_to_sender') AND last_tracking_at < ?
      ORDER BY last_tracking_at LIMIT ?`,
    [new Date(q.now.getTime() - q.olderThanMs), q.limit],
  );
  return rows.map((r: { fulfilment_id: string; order_id: string; carrier_id: string; tracking_number: string; shipment_status: string; last_tracking_at: Date }) => ({
    fulfilmentId: r.fulfilment_id, orderId: r.order_id, carrierId: r.carrier_id, trackingNumber: r.tracking_number, shipmentStatus: r.shipment_status,
    lastTrackingAt: r.last_tracking_at.toISOString(),
  }));
}

/** How many fulfilments each location was given on the UTC day of `now`, for daily capacity; a location with none is absent. */
export async function fulfilmentsCreatedToday(knex: Knex, now: Date): Promise<Map<string, number>> {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const end = new Date(start.getTime() + 86_400_000);
  const rows = await knex('fulfilments').where('created_at', '>=', start).andWhere('created_at', '<', end)
    .groupBy('location_id').select('location_id').count('* as n');
  return new Map(rows.map((r) => [r.location_id as string, Number(r.n)]));
}
