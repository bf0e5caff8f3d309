import type { Knex } from 'knex';
import type { FulfilmentEvent, FulfilmentLine, LabelFailure, PackageSpec, ShipmentStatus } from '../write-side/fulfilments/fulfilment.events.js';
import { inboundAfter, labelFailureAfter, shipmentStatusOf, statusAfter, type FulfilmentStatus, type Inbound } from '../write-side/fulfilments/fulfilment.state.js';
import type { Recorded } from '../write-side/to-domain.js';
import { UnappliableEvent, type Projection } from './projection.js';

// Fulfilments with their timeline: the locations' work queues and GET /fulfilments/{id}. A batch
// is applied in four statements: the new fulfilments; one read of the fulfilments it changes;
// their rows folded in log order, each with the status the write side's statusAfter gives, the
// shipment status its shipmentStatusOf gives and a pickup's transfers as its inboundAfter folds
// them, written in one UPDATE; and the timeline entries.

export interface StoredLine { sku: string; quantity: number; picked: number | null }

export interface StoredUpdate { at: string; status: ShipmentStatus; detail?: string; location?: string; moved: boolean }

/** A transfer's way to the pickup store. */
export interface StoredTransfer { to: string; pickupFulfilmentId: string; shippedAt: string | null; receivedAt: string | null }

export interface StoredShipment {
  shipmentId: string; fulfilmentId: string; locationId: string; carrierId: string; service: string; trackingNumber: string; labelUrl: string;
  cost: number; currency: string; estimatedDelivery: string; lines: FulfilmentLine[]; choice: { why: string; quotes: unknown[]; unavailable: string[] };
  status: ShipmentStatus; events: StoredUpdate[]; labelledAt: string; shippedAt: string | null;
  /** When the label was voided at the carrier (its fulfilment cancelled before the handover); absent in rows written before. */
  cancelledAt?: string | null;
}

/** The columns of a fulfilment its changes fold into, as read and written back. */
interface Changing {
  fulfilment_id: string;
  status: FulfilmentStatus;
  lines: StoredLine[];
  packages: PackageSpec[];
  shipment: StoredShipment | null;
  carrier_id: string | null;
  tracking_number: string | null;
  shipment_status: ShipmentStatus | null;
  pickup: { readyAt: string; expiresAt: string; collectedAt?: string; expiredAt?: string } | null;
  rejection: { reason: string; lines: FulfilmentLine[]; at: string } | null;
  cancellation: { reason: string; at: string } | null;
  /** Why the label job gave up, while it stands (write-side labelFailureAfter). */
  label_failure: (LabelFailure & { at: string }) | null;
  transfer: StoredTransfer | null;
  inbound: Inbound[];
  updated_at: Date | string;
  last_tracking_at: Date | string | null;
}

const CHANGING = ['fulfilment_id', 'status', 'lines', 'packages', 'shipment', 'carrier_id', 'tracking_number', 'shipment_status', 'pickup', 'rejection',
  'cancellation', 'label_failure', 'transfer', 'inbound', 'updated_at', 'last_tracking_at'];

export const fulfilmentsProjection: Projection<FulfilmentEvent> = {
  name: 'fulfilments',
  handles: ['FulfilmentCreated', 'FulfilmentPicked', 'FulfilmentRejected', 'FulfilmentPacked', 'FulfilmentCarrierChosen', 'FulfilmentLabelled', 'FulfilmentShipped', 'ShipmentTracked',
    'FulfilmentReadyForPickup', 'FulfilmentCollected', 'FulfilmentExpired', 'FulfilmentCancelled', 'LabelPurchaseRefused', 'LabelPurchaseFailed', 'LabelCancelled',
    'LabelCancellationRefused', 'TransferShipped', 'TransferReceived', 'PickupExtended', 'PickupTransferArrived', 'PickupTransferDropped'] satisfies FulfilmentEvent['type'][],

  async apply(event, trx) {
    await applyFulfilments([event], trx);
  },

  applyBatch: applyFulfilments,
};

type Change = Recorded<Exclude<FulfilmentEvent, { type: 'FulfilmentCreated' }>>;

/** When the service heard of an event: its own time, or for a tracking update (which carries the carrier's) when it was recorded. */
const heardAt = (e: Change): string => (e.type === 'ShipmentTracked' ? new Date(e.recordedAt).toISOString() : e.data.at);

async function applyFulfilments(events: Recorded<FulfilmentEvent>[], trx: Knex.Transaction): Promise<void> {
  const created: Record<string, unknown>[] = [];
  const changes: Change[] = [];
  const timeline: Record<string, unknown>[] = [];
  for (const e of events) {
    timeline.push({ fulfilment_id: e.data.fulfilmentId, position: e.position, at: e.data.at, type: e.type, details: timelineDetails(e) });
    if (e.type === 'FulfilmentCreated') {
      const d = e.data;
      created.push({
        fulfilment_id: d.fulfilmentId, order_id: d.orderId, location_id: d.locationId, kind: d.kind, status: statusAfter(e), allocation_seq: d.allocationSeq,
        delivery: d.delivery, lines: JSON.stringify(d.lines.map((l): StoredLine => ({ ...l, picked: null }))), created_position: e.position,
        created_at: d.at, updated_at: d.at,
        transfer: d.transfer ? JSON.stringify({ ...d.transfer, shippedAt: null, receivedAt: null } satisfies StoredTransfer) : null,
        inbound: JSON.stringify((d.inbound ?? []).map((t): Inbound => ({ ...t, status: 'awaited' }))),
      });
    } else {
      changes.push(e as Change);
    }
  }

  if (created.length > 0) await trx('fulfilments').insert(created).onConflict('fulfilment_id').ignore();
  if (changes.length > 0) {
    const ids = [...new Set(changes.map((e) => e.data.fulfilmentId))];
    const { rows } = await trx.raw(`SELECT ${CHANGING.join(', ')} FROM fulfilments WHERE fulfilment_id = ANY(?::text[]) FOR UPDATE`, [ids]);
    const found = new Map<string, Changing>(rows.map((r: Changing) => [r.fulfilment_id, r]));
    if (found.size < ids.length) throw new UnappliableEvent(`changes for unknown fulfilments ${ids.filter((id) => !found.has(id)).join(', ')}`);
    for (const e of changes) found.set(e.data.fulfilmentId, fold(found.get(e.data.fulfilmentId)!, e));
    await trx.raw(
      `UPDATE fulfilments f SET status = v.status, lines = v.lines, packages = v.packages, shipment = v.shipment, carrier_id = v.carrier_id,
              tracking_number = v.tracking_number, shipment_status = v.shipment_status, pickup = v.pickup, rejection = v.rejection,
              cancellation = v.cancellation, label_failure = v.label_failure, transfer = v.transfer, inbound = v.inbound, updated_at = v.updated_at,
              last_tracking_at = v.last_tracking_at
         FROM jsonb_to_recordset(?::jsonb) AS v(fulfilment_id text, status text, lines jsonb, packages jsonb, shipment jsonb, carrier_id text,
              tracking_number text, shipment_status text, pickup jsonb, rejection jsonb, cancellation jsonb, label_failure jsonb, transfer jsonb,
              inbound jsonb, updated_at timestamptz, last_tracking_at timestamptz)
        WHERE f.fulfilment_id = v.fulfilment_id`,
      [JSON.stringify([...found.values()])],
    );
  }
  if (timeline.length > 0) await trx('fulfilment_timeline').insert(timeline).onConflict(['fulfilment_id', 'position']).ignore();
}

/** The fulfilment's row after one change. */
function fold(row: Changing, e: Change): Changing {
  const heard = heardAt(e);
  const at = e.data.at;
  const failure = labelFailureAfter(row.label_failure ?? undefined, e);
  const r: Changing = {
    ...row, status: statusAfter(e) ?? row.status, updated_at: Date.parse(heard) > new Date(row.updated_at).getTime() ? heard : row.updated_at,
    label_failure: failure === undefined ? null : failure === row.label_failure ? row.label_failure : { ...failure, at },
  };
  switch (e.type) {
    case 'FulfilmentPicked': {
      const picked = new Map(e.data.picked.map((l) => [l.sku, l.quantity]));
      return { ...r, lines: r.lines.map((l) => ({ ...l, picked: picked.get(l.sku) ?? 0 })) };
    }
    case 'FulfilmentRejected': return { ...r, rejection: { reason: e.data.reason, lines: e.data.lines, at } };
    case 'FulfilmentPacked': return { ...r, packages: e.data.packages };
    case 'FulfilmentLabelled': {
      const { shipmentId, carrierId, service, trackingNumber, labelUrl, cost, currency, estimatedDelivery, choice } = e.data.label;
      const lines = r.lines.filter((l) => (l.picked ?? 0) > 0).map((l) => ({ sku: l.sku, quantity: l.picked! }));
      const shipment: StoredShipment = {
        shipmentId, fulfilmentId: e.data.fulfilmentId, locationId: e.data.locationId, carrierId, service, trackingNumber, labelUrl, cost, currency,
        estimatedDelivery, lines, choice, status: shipmentStatusOf([]), events: [], labelledAt: at, shippedAt: null,
      };
      return { ...r, shipment, carrier_id: carrierId, tracking_number: trackingNumber, shipment_status: shipment.status, last_tracking_at: heard };
    }
    case 'FulfilmentShipped':
      return { ...r, shipment: r.shipment && { ...r.shipment, shippedAt: at }, last_tracking_at: heard };
    case 'ShipmentTracked': {
      if (!r.shipment) throw new UnappliableEvent(`tracking for fulfilment ${e.data.fulfilmentId}, which has no label`);
      const { status, detail, location, moved } = e.data;
      const events = [...r.shipment.events, { at, status, ...(detail === undefined ? {} : { detail }), ...(location === undefined ? {} : { location }), moved }];
      const shipmentStatus = shipmentStatusOf(events);
      return { ...r, shipment: { ...r.shipment, events, status: shipmentStatus }, shipment_status: shipmentStatus, last_tracking_at: heard };
    }
    case 'FulfilmentReadyForPickup': return { ...r, pickup: { readyAt: e.data.readyAt, expiresAt: e.data.expiresAt } };
    case 'FulfilmentCollected': return { ...r, pickup: r.pickup && { ...r.pickup, collectedAt: at } };
    case 'FulfilmentExpired': return { ...r, pickup: r.pickup && { ...r.pickup, expiredAt: at } };
    case 'FulfilmentCancelled': return { ...r, cancellation: { reason: e.data.reason, at } };
    case 'LabelCancelled':
      return r.shipment?.trackingNumber === e.data.trackingNumber ? { ...r, shipment: { ...r.shipment, cancelledAt: at } } : r;
    case 'FulfilmentCarrierChosen':
    case 'LabelPurchaseRefused':
    case 'LabelPurchaseFailed':
    case 'LabelCancellationRefused':
      return r;
    case 'TransferShipped': return { ...r, transfer: r.transfer && { ...r.transfer, shippedAt: at } };
    case 'TransferReceived': return { ...r, transfer: r.transfer && { ...r.transfer, receivedAt: at } };
    case 'PickupExtended':
    case 'PickupTransferArrived':
    case 'PickupTransferDropped': {
      const next = inboundAfter(r.inbound, r.lines.map(({ sku, quantity }) => ({ sku, quantity })), e);
      if (!next) return r;
      const picked = new Map(r.lines.map((l) => [l.sku, l.picked]));
      return { ...r, inbound: next.inbound, lines: next.lines.map((l) => ({ ...l, picked: picked.get(l.sku) ?? null })) };
    }
    default: {
      const unknown: never = e;
      void unknown;
      return r;
    }
  }
}

/** What each event adds to the timeline; the pickup code stays out of it. */
function timelineDetails(e: Recorded<FulfilmentEvent>): Record<string, unknown> {
  switch (e.type) {
    case 'FulfilmentCreated': {
      const { kind, allocationSeq, lines, transfer, inbound } = e.data;
      return { kind, allocationSeq, lines, ...(transfer ? { to: transfer.to } : {}), ...(inbound ? { inbound } : {}) };
    }
    case 'FulfilmentPicked': return { picked: e.data.picked, short: e.data.short };
    case 'FulfilmentRejected': return { reason: e.data.reason, lines: e.data.lines };
    case 'FulfilmentPacked': return { packages: e.data.packages.length };
    case 'FulfilmentCarrierChosen': {
      const { quote, choice } = e.data.decision;
      return { attempt: e.data.decision.attempt, carrierId: quote.carrierId, service: quote.service, amount: quote.amount, why: choice.why, unavailable: choice.unavailable };
    }
    case 'LabelPurchaseRefused': {
      const { attempt, carrierId, service, code, reason } = e.data;
      return { attempt, carrierId, service, code, reason };
    }
    case 'LabelPurchaseFailed': {
      const { attempt, carrierId, code, reason, refusedBy } = e.data;
      return { attempt, carrierId, code, reason, refusedBy };
    }
    case 'LabelCancelled': return { carrierId: e.data.carrierId, trackingNumber: e.data.trackingNumber };
    case 'LabelCancellationRefused': {
      const { carrierId, trackingNumber, code, reason } = e.data;
      return { carrierId, trackingNumber, code, reason };
    }
    case 'FulfilmentLabelled': {
      const { carrierId, service, trackingNumber, cost, choice } = e.data.label;
      return { carrierId, service, trackingNumber, cost, why: choice.why };
    }
    case 'FulfilmentShipped': return { carrierId: e.data.carrierId, trackingNumber: e.data.trackingNumber, lines: e.data.lines };
    case 'ShipmentTracked': {
      const { status, detail, location, moved } = e.data;
      return { status, ...(detail === undefined ? {} : { detail }), ...(location === undefined ? {} : { location }), moved };
    }
    case 'FulfilmentReadyForPickup': return { expiresAt: e.data.expiresAt };
    case 'FulfilmentCollected': return { lines: e.data.lines };
    case 'FulfilmentExpired': return { lines: e.data.lines };
    case 'FulfilmentCancelled': return { reason: e.data.reason };
    case 'TransferShipped':
    case 'TransferReceived': return { to: e.data.to, lines: e.data.lines };
    case 'PickupExtended': return { allocationSeq: e.data.allocationSeq, lines: e.data.lines, inbound: e.data.inbound };
    case 'PickupTransferArrived': return { transferId: e.data.transferId, from: e.data.from, lines: e.data.lines };
    case 'PickupTransferDropped': return { transferId: e.data.transferId, from: e.data.from, lines: e.data.lines, reason: e.data.reason };
    default: {
      const unknown: never = e;
      void unknown;
      return {};
    }
  }
}
