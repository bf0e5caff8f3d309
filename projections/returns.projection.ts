import type { Knex } from 'knex';
import { shipmentStatusOf } from '../write-side/fulfilments/fulfilment.state.js';
import type { ReturnEvent } from '../write-side/returns/return.events.js';
import { evolve, initialState, type OpenReturn, type Return } from '../write-side/returns/return.state.js';
import type { Recorded } from '../write-side/to-domain.js';
import { UnappliableEvent, type Projection } from './projection.js';

// Returns with their timeline: GET /returns, GET /returns/{id} and the returns of GET /orders/{id}.
// Each return's row holds its state folded by the write side's own evolve (so its status is the
// write side's returnStatusOf), with the columns the desk, the carriers' webhooks and the
// tracking poll look up by (the parcel's status is the outbound rule, shipmentStatusOf).
// A batch is applied in three statements: one read of the returns it touches, their rows written
// back in one upsert, and the timeline entries.

export const returnsProjection: Projection<ReturnEvent> = {
  name: 'returns',
  handles: ['ReturnOpened', 'ReturnCarrierChosen', 'ReturnLabelled', 'ReturnTracked', 'ReturnReceived', 'ReturnRefunded', 'RefundFailed',
    'ReturnExchangeOrdered'] satisfies ReturnEvent['type'][],

  async apply(event, trx) {
    await applyReturns([event], trx);
  },

  applyBatch: applyReturns,
};

interface Row { state: OpenReturn; created_position: number | string; created_at: string | Date; updated_at: string | Date; last_tracking_at: string | Date | null }

async function applyReturns(events: Recorded<ReturnEvent>[], trx: Knex.Transaction): Promise<void> {
  const ids = [...new Set(events.map((e) => e.data.returnId))];
  const { rows } = await trx.raw('SELECT return_id, state, created_position, created_at, updated_at, last_tracking_at FROM returns WHERE return_id = ANY(?::text[]) FOR UPDATE', [ids]);
  const current = new Map<string, Row>((rows as (Row & { return_id: string })[]).map((r) => [r.return_id, r]));
  const timeline: Record<string, unknown>[] = [];
  for (const e of events) {
    const row = current.get(e.data.returnId);
    if (!row && e.type !== 'ReturnOpened') throw new UnappliableEvent(`${e.type} for return ${e.data.returnId}, which was never opened`);
    const before: Return = row?.state ?? initialState;
    const after = evolve(before, e);
    if (after.status === 'none') continue;
    const heard = e.type === 'ReturnTracked' ? new Date(e.recordedAt).toISOString() : null;
    // When the service heard of it: its own time, or for a carrier's scan (which carries the carrier's) when it was recorded.
    const at = heard ?? (e.data as { at: string }).at;
    current.set(e.data.returnId, {
      state: after,
      created_position: row?.created_position ?? e.position,
      created_at: row?.created_at ?? at,
      updated_at: row && new Date(row.updated_at).getTime() > Date.parse(at) ? row.updated_at : at,
      last_tracking_at: heard ?? (e.type === 'ReturnLabelled' ? e.data.at : row?.last_tracking_at ?? null),
    });
    timeline.push({ return_id: e.data.returnId, position: e.position, at: 'at' in e.data ? e.data.at : new Date(e.recordedAt).toISOString(), type: e.type, details: JSON.stringify(details(e)) });
  }
  const touched = ids.filter((id) => current.has(id)).map((id) => {
    const r = current.get(id)!;
    return {
      return_id: id, order_id: r.state.orderId, status: r.state.status, placed_by: r.state.placedBy, state: JSON.stringify(r.state),
      carrier_id: r.state.label?.carrierId ?? null, tracking_number: r.state.label?.trackingNumber ?? null,
      shipment_status: r.state.label ? shipmentStatusOf(r.state.tracking) : null,
      created_position: r.created_position, created_at: r.created_at, updated_at: r.updated_at, last_tracking_at: r.last_tracking_at,
    };
  });
  if (touched.length > 0) await trx('returns').insert(touched).onConflict('return_id').merge();
  if (timeline.length > 0) await trx('return_timeline').insert(timeline).onConflict(['return_id', 'position']).ignore();
}

function details(e: ReturnEvent): Record<string, unknown> {
  switch (e.type) {
    case 'ReturnOpened': return { lines: e.data.lines, resolution: e.data.resolution, ...(e.data.exchangeLines ? { exchangeLines: e.data.exchangeLines } : {}) };
    case 'ReturnCarrierChosen': return { carrierId: e.data.decision.quote.carrierId, service: e.data.decision.quote.service, why: e.data.decision.choice.why, to: e.data.decision.to.locationId };
    case 'ReturnLabelled': return { carrierId: e.data.label.carrierId, trackingNumber: e.data.label.trackingNumber, locationId: e.data.locationId };
    case 'ReturnTracked': return { status: e.data.status, at: e.data.at, moved: e.data.moved, ...(e.data.location ? { location: e.data.location } : {}) };
    case 'ReturnReceived': return { receiptId: e.data.receiptId, locationId: e.data.locationId, lines: e.data.lines, receivedBy: e.data.receivedBy };
    case 'ReturnRefunded': return { receiptId: e.data.receiptId, amount: e.data.amount, refundId: e.data.refundId };
    case 'RefundFailed': return { receiptId: e.data.receiptId, amount: e.data.amount, code: e.data.code, detail: e.data.detail };
    case 'ReturnExchangeOrdered': return { exchangeOrderId: e.data.exchangeOrderId };
    default: {
      const unknown: never = e;
      void unknown;
      return {};
    }
  }
}
