import type { Knex } from 'knex';
import { refundStatusOf, type OpenReturn } from '../write-side/returns/return.state.js';

interface ReturnRow {
  return_id: string; order_id: string; status: string; placed_by: string; state: OpenReturn; created_position: string | number;
  created_at: Date; updated_at: Date;
}

/** A return as the API shows it: its lines, label, receipts and refund, and, with `timeline`, every step. */
function returnView(row: ReturnRow, timeline?: { at: Date; type: string; details: Record<string, unknown> }[]) {
  const r = row.state;
  const refunded = r.refunds.filter((f) => f.settled).reduce((sum, f) => sum + f.amount, 0);
  const failed = r.refunds.find((f) => !f.settled && f.failure);
  const refundStatus = refundStatusOf(r);
  return {
    returnId: r.returnId, orderId: r.orderId, status: r.status, resolution: r.resolution, lines: r.lines,
    ...(r.exchangeLines ? { exchangeLines: r.exchangeLines } : {}),
    label: r.label ? { carrierId: r.label.carrierId, trackingNumber: r.label.trackingNumber, labelUrl: r.label.labelUrl, service: r.label.service, locationId: r.label.locationId } : null,
    tracking: r.tracking,
    received: r.receipts.flatMap((x) => x.lines.map((l) => ({ receiptId: x.receiptId, sku: l.sku, quantity: l.quantity, condition: l.condition, locationId: x.locationId, at: x.at }))),
    refund: refundStatus === null ? null : {
      amount: refunded, currency: r.currency, status: refundStatus,
      ...(failed?.failure ? { failure: failed.failure } : {}),
      receipts: r.refunds.map((f) => ({ receiptId: f.receiptId, amount: f.amount, refundId: f.refundId, status: f.settled ? 'refunded' : 'failed', failure: f.failure })),
    },
    ...(r.exchangeOrderId ? { exchangeOrderId: r.exchangeOrderId } : {}),
    openedAt: r.openedAt, updatedAt: row.updated_at.toISOString(),
    ...(timeline ? { timeline: timeline.map((t) => ({ at: t.at.toISOString(), type: t.type, ...t.details })) } : {}),
  };
}

export type ReturnView = ReturnType<typeof returnView>;

export async function findReturn(knex: Knex, returnId: string): Promise<{ placedBy: string; view: ReturnView } | null> {
  const row = await knex<ReturnRow>('returns').where({ return_id: returnId }).first();
  if (!row) return null;
  const timeline = await knex('return_timeline').where({ return_id: returnId }).orderBy('position').select('at', 'type', 'details');
  return { placedBy: row.placed_by, view: returnView(row, timeline) };
}

/** The order's returns, oldest first, without their timelines (the order's own timeline lists their steps). */
export async function returnsOfOrder(knex: Knex, orderId: string): Promise<ReturnView[]> {
  const rows = await knex<ReturnRow>('returns').where({ order_id: orderId }).orderBy('created_position');
  return rows.map((r: ReturnRow) => returnView(r));
}

/** The returns desk: returns in a status (all when absent), oldest first, after the cursor `after` (a created position). */
export async function listReturns(knex: Knex, q: { status?: string; limit: number; after?: number }): Promise<{ returns: ReturnView[]; next: number | null }> {
  const rows = await knex<ReturnRow>('returns')
    .modify((b) => { if (q.status) b.where({ status: q.status }); if (q.after !== undefined) b.where('created_position', '>', q.after); })
    .orderBy('created_position').limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { returns: page.map((r: ReturnRow) => returnView(r)), next: rows.length > q.limit ? Number(page[page.length - 1].created_position) : null };
}

export interface StaleReturnParcel { returnId: string; orderId: string; carrierId: string; trackingNumber: string; shipmentStatus: string; lastTrackingAt: string }

/**
 * Return parcels on their way back (labelled, not yet received, neither delivered nor sent back
 * to the customer) that the service has heard nothing about for more than `olderThanMs` before
 * `now`, longest silent first: the ones to ask their carrier about.
 */
export async function staleReturnParcels(knex: Knex, q: { olderThanMs: number; now: Date; limit: number }): Promise<StaleReturnParcel[]> {
  const { rows } = await knex.raw(
    `SELECT return_id, order_id, carrier_id, tracking_number, shipment_status, last_tracking_at FROM returns
      WHERE status IN ('label_created', 'in_transit') AND shipment_status NOT IN ('delivered', 'returned_to_sender') AND last_tracking_at < ?
      ORDER BY last_tracking_at LIMIT ?`,
    [new Date(q.now.getTime() - q.olderThanMs), q.limit],
  );
  return rows.map((r: { return_id: string; order_id: string; carrier_id: string; tracking_number: string; shipment_status: string; last_tracking_at: Date }) => ({
    returnId: r.return_id, orderId: r.order_id, carrierId: r.carrier_id, trackingNumber: r.tracking_number, shipmentStatus: r.shipment_status,
    lastTrackingAt: r.last_tracking_at.toISOString(),
  }));
}
