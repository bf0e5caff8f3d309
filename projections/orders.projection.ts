import type { Knex } from 'knex';
import { addressKey, paymentFingerprint } from '../read-side/orders.queries.js';
import type { FraudDecision, OrderEvent, OrderLine, PlacedOrder } from '../write-side/orders/order.events.js';
import type { FulfilmentEvent } from '../write-side/fulfilments/fulfilment.events.js';
import {
  evolveProgress, NO_PROGRESS, progressFacts, waitingForStock, type AllocationPart, type BackorderedPart, type PickupRecord, type ShipmentRecord,
} from '../write-side/orders/order-progress.js';
import { statusOf, type StatusFacts } from '../write-side/orders/order.state.js';
import type { Recorded } from '../write-side/to-domain.js';
import { UnappliableEvent, type Projection } from './projection.js';

// Orders with their timeline: what GET /orders and GET /orders/{id} serve. A batch is applied in
// four statements: the new orders; one read of the orders it changes; their rows folded in log
// order, each with its status as the write side's statusOf says, written in one UPDATE; and the
// timeline entries. Allocations, shipments, pickups and lines backordered after they were given
// back are the order's progress, folded by the write side's evolveProgress. `backorder` is what
// the order waits for stock for, before its first allocation or after locations gave lines back:
// the backorder job's queue.

/** The columns of an order its changes fold into, as read and written back. */
interface Changing {
  order_id: string;
  /** The order's lines, read for the status facts, never written. */
  lines: OrderLine[];
  fraud: { score: number; decision: FraudDecision; reasons: unknown[] } | null;
  allocations: AllocationPart[];
  shipments: ShipmentRecord[];
  pickups: PickupRecord[];
  backordered: BackorderedPart[];
  backorder: { missing: unknown; why: string } | null;
  review: unknown;
  released_at: Date | string | null;
  cancelled_at: Date | string | null;
  rejection: unknown;
  payment: Record<string, unknown>;
  updated_at: Date | string;
}

const CHANGING = ['order_id', 'lines', 'fraud', 'allocations', 'shipments', 'pickups', 'backordered', 'backorder', 'review', 'released_at', 'cancelled_at', 'rejection', 'payment', 'updated_at'];

/** What statusOf reads, from the columns that hold it. */
const statusFacts = (r: Omit<Changing, 'order_id' | 'payment' | 'updated_at'>): StatusFacts => ({
  cancelled: r.cancelled_at !== null, rejected: r.rejection !== null, released: r.released_at !== null,
  fraudDecision: r.fraud?.decision ?? null, reviewed: r.review !== null, backordered: r.backorder !== null && r.allocations.length === 0,
  ...progressFacts(r.lines, progressOf(r)),
});

const progressOf = (r: Pick<Changing, 'allocations' | 'shipments' | 'pickups' | 'backordered'>) =>
  ({ allocations: r.allocations, shipments: r.shipments, pickups: r.pickups, backordered: r.backordered });

/** What became of a fulfilment's label that an operator looking at the order needs to see: on its timeline, the row unchanged. */
type LabelNews = Extract<FulfilmentEvent, { type: 'LabelPurchaseFailed' | 'LabelCancelled' | 'LabelCancellationRefused' }>;
const LABEL_NEWS = ['LabelPurchaseFailed', 'LabelCancelled', 'LabelCancellationRefused'] as const satisfies readonly LabelNews['type'][];
const isLabelNews = (e: Recorded<OrderEvent | LabelNews>): e is Recorded<LabelNews> => (LABEL_NEWS as readonly string[]).includes(e.type);

export const ordersProjection: Projection<OrderEvent | LabelNews> = {
  name: 'orders',
  handles: ['OrderPlaced', 'OrderCancelled', 'FraudAssessed', 'OrderAllocated', 'OrderBackordered', 'OrderHeld', 'OrderReviewed', 'OrderReleased',
    'OrderRejected', 'OrderReallocated', 'OrderFulfilmentShipped', 'OrderFulfilmentDelivered', 'OrderReadyForPickup', 'OrderCollected', 'OrderTransferShipped', 'OrderTransferReceived',
    'PaymentAuthorized', 'PaymentDeclined', 'PaymentCaptured', 'PaymentVoided', 'PaymentRefunded',
    'OrderReturnAuthorized', 'OrderRefundRequested', 'OrderRefundFailed', ...LABEL_NEWS] satisfies (OrderEvent | LabelNews)['type'][],

  async apply(event, trx) {
    await applyOrders([event], trx);
  },

  applyBatch: applyOrders,
};

type Change = Exclude<OrderEvent, { type: 'OrderPlaced' }>;

async function applyOrders(events: Recorded<OrderEvent | LabelNews>[], trx: Knex.Transaction): Promise<void> {
  const placed: Record<string, unknown>[] = [];
  const changes: Change[] = [];
  const timeline: Record<string, unknown>[] = [];
  const entry = (event: Recorded<OrderEvent | LabelNews>, orderId: string, at: string, details: Record<string, unknown>) => {
    timeline.push({ order_id: orderId, position: event.position, at, type: event.type, details });
  };

  for (const e of events) {
    if (isLabelNews(e)) {
      entry(e, e.data.orderId, e.data.at, labelNewsDetails(e));
      continue;
    }
    if (e.type === 'OrderPlaced') {
      placed.push(orderRow(e.data, e.position));
      entry(e, e.data.orderId, e.data.placedAt, { channel: e.data.channel, total: e.data.total, currency: e.data.currency });
      continue;
    }
    changes.push(e);
    entry(e, e.data.orderId, e.data.at, timelineDetails(e));
  }

  if (placed.length > 0) await trx('orders').insert(placed).onConflict('order_id').ignore();
  if (changes.length > 0) {
    const ids = [...new Set(changes.map((e) => e.data.orderId))];
    const { rows } = await trx.raw(`SELECT ${CHANGING.join(', ')} FROM orders WHERE order_id = ANY(?::text[]) FOR UPDATE`, [ids]);
    const orders = new Map<string, Changing>(rows.map((r: Changing) => [r.order_id, r]));
    if (orders.size < ids.length) throw new UnappliableEvent(`changes for unknown orders ${ids.filter((id) => !orders.has(id)).join(', ')}`);
    for (const e of changes) {
      const row = orders.get(e.data.orderId)!;
      orders.set(row.order_id, fold(row, e));
    }
    await trx.raw(
      `UPDATE orders o SET status = v.status, fraud = v.fraud, allocations = v.allocations, shipments = v.shipments, pickups = v.pickups,
              backordered = v.backordered, backorder = v.backorder, review = v.review, released_at = v.released_at, cancelled_at = v.cancelled_at, rejection = v.rejection,
              payment = v.payment, updated_at = v.updated_at
         FROM jsonb_to_recordset(?::jsonb) AS v(order_id text, status text, fraud jsonb, allocations jsonb, shipments jsonb, pickups jsonb,
              backordered jsonb, backorder jsonb, review jsonb, released_at timestamptz, cancelled_at timestamptz, rejection jsonb, payment jsonb, updated_at timestamptz)
        WHERE o.order_id = v.order_id`,
      [JSON.stringify([...orders.values()].map((r) => ({ ...r, status: statusOf(statusFacts(r)) })))],
    );
  }
  if (timeline.length > 0) await trx('order_timeline').insert(timeline).onConflict(['order_id', 'position']).ignore();
}

/** The order's row after one change. A closing fact (release, cancellation, rejection) keeps its first time. */
function fold(row: Changing, e: Change): Changing {
  const at = e.data.at;
  const { allocations, shipments, pickups, backordered } = evolveProgress(progressOf(row), e);
  const r = { ...row, allocations, shipments, pickups, backordered, updated_at: Date.parse(at) > new Date(row.updated_at).getTime() ? at : row.updated_at };
  switch (e.type) {
    case 'OrderCancelled': return { ...r, cancelled_at: r.cancelled_at ?? at };
    case 'FraudAssessed': return { ...r, fraud: { score: e.data.score, decision: e.data.decision, reasons: e.data.reasons } };
    case 'OrderAllocated': return { ...r, backorder: null };
    case 'OrderReallocated': {
      // Lines given back and sourced nowhere wait for stock, why as the latest re-allocation that backordered some says.
      const missing = waitingForStock(progressOf(r));
      if (missing.length === 0) return { ...r, backorder: null };
      return { ...r, backorder: { missing, why: e.data.backordered.length > 0 || !row.backorder ? e.data.why : row.backorder.why } };
    }
    case 'OrderFulfilmentShipped':
    case 'OrderFulfilmentDelivered':
    case 'OrderReadyForPickup':
    case 'OrderCollected':
    case 'OrderTransferShipped':
    case 'OrderTransferReceived':
      return r;
    case 'OrderBackordered': return { ...r, backorder: { missing: e.data.missing, why: e.data.why } };
    case 'OrderHeld': return r;                                       // the hold follows from the assessment
    case 'OrderReviewed': {
      const { decision, note, reviewer } = e.data;
      return { ...r, review: { decision, note: note ?? null, reviewer, at } };
    }
    case 'OrderReleased': return { ...r, released_at: r.released_at ?? at };
    case 'OrderRejected': return { ...r, rejection: r.rejection ?? { cause: e.data.cause, detail: e.data.detail, at } };
    case 'PaymentAuthorized': return { ...r, payment: { ...r.payment, authorizationId: e.data.authorizationId, authorized: e.data.amount } };
    case 'PaymentDeclined': return { ...r, payment: { ...r.payment, declined: { code: e.data.code, detail: e.data.detail } } };
    case 'PaymentCaptured': return { ...r, payment: { ...r.payment, captured: e.data.totalCaptured } };
    case 'PaymentVoided': return { ...r, payment: { ...r.payment, voided: true } };
    case 'PaymentRefunded': return { ...r, payment: { ...r.payment, refunded: e.data.totalRefunded } };
    // A return's own course is the returns read model's; the order's timeline lists its steps.
    case 'OrderReturnAuthorized':
    case 'OrderRefundRequested':
    case 'OrderRefundFailed':
      return r;
    default: {
      const unknown: never = e;
      void unknown;
      return r;
    }
  }
}

function timelineDetails(e: Change): Record<string, unknown> {
  switch (e.type) {
    case 'OrderCancelled': return { reason: e.data.reason };
    case 'FraudAssessed': return { score: e.data.score, decision: e.data.decision };
    // The candidates say why each location was or was not used (no stock, full today, excluded).
    case 'OrderAllocated': return { why: e.data.why, cost: e.data.cost, locations: e.data.allocations.map((a) => a.locationId), candidates: e.data.candidates };
    case 'OrderBackordered': return { why: e.data.why, missing: e.data.missing, candidates: e.data.candidates };
    case 'OrderHeld': return { reason: e.data.reason };
    case 'OrderReviewed': return { decision: e.data.decision, note: e.data.note ?? null, reviewer: e.data.reviewer };
    case 'OrderReleased': return {};
    case 'OrderRejected': return { cause: e.data.cause, detail: e.data.detail };
    case 'OrderReallocated': {
      const { cause, why, cost, allocationSeq, released, allocations, backordered, candidates, fulfilmentId } = e.data;
      return {
        cause, why, cost, allocationSeq, released, locations: allocations.map((a) => a.locationId), backordered, candidates, ...(fulfilmentId === undefined ? {} : { fulfilmentId }),
      };
    }
    case 'OrderFulfilmentShipped': return { fulfilmentId: e.data.fulfilmentId, locationId: e.data.locationId, lines: e.data.lines };
    case 'OrderFulfilmentDelivered': return { fulfilmentId: e.data.fulfilmentId };
    // The pickup code is not in the timeline: the order's view shows it only to whom may collect.
    case 'OrderReadyForPickup': return { fulfilmentId: e.data.fulfilmentId, locationId: e.data.locationId, expiresAt: e.data.expiresAt };
    case 'OrderCollected': return { fulfilmentId: e.data.fulfilmentId, locationId: e.data.locationId, lines: e.data.lines };
    case 'OrderTransferShipped': return { fulfilmentId: e.data.fulfilmentId, from: e.data.from, to: e.data.to, lines: e.data.lines };
    case 'OrderTransferReceived': return { fulfilmentId: e.data.fulfilmentId, from: e.data.from, to: e.data.to, lines: e.data.lines, reserved: e.data.reserved };
    case 'PaymentAuthorized': return { amount: e.data.amount };
    case 'PaymentDeclined': return { code: e.data.code, detail: e.data.detail };
    case 'PaymentCaptured': return { amount: e.data.amount, ...(e.data.fulfilmentId === undefined ? {} : { fulfilmentId: e.data.fulfilmentId }) };
    case 'PaymentVoided': return {};
    case 'PaymentRefunded': return { amount: e.data.amount, ...(e.data.refundKey === undefined ? {} : { refundKey: e.data.refundKey }) };
    case 'OrderReturnAuthorized': return { returnId: e.data.returnId, resolution: e.data.resolution, lines: e.data.lines };
    case 'OrderRefundRequested': return { returnId: e.data.returnId, refundKey: e.data.refundKey, amount: e.data.amount, shipping: e.data.shipping };
    case 'OrderRefundFailed': return { refundKey: e.data.refundKey, code: e.data.code, detail: e.data.detail };
    default: {
      const unknown: never = e;
      void unknown;
      return {};
    }
  }
}

function labelNewsDetails(e: LabelNews): Record<string, unknown> {
  switch (e.type) {
    case 'LabelPurchaseFailed': {
      const { fulfilmentId, attempt, carrierId, code, reason, refusedBy } = e.data;
      return { fulfilmentId, attempt, carrierId, code, reason, refusedBy };
    }
    case 'LabelCancelled': return { fulfilmentId: e.data.fulfilmentId, carrierId: e.data.carrierId, trackingNumber: e.data.trackingNumber };
    case 'LabelCancellationRefused': {
      const { fulfilmentId, carrierId, trackingNumber, code, reason } = e.data;
      return { fulfilmentId, carrierId, trackingNumber, code, reason };
    }
    default: {
      const unknown: never = e;
      void unknown;
      return {};
    }
  }
}

function orderRow(o: PlacedOrder, position: number): Record<string, unknown> {
  return {
    order_id: o.orderId,
    placed_position: position,
    status: statusOf(statusFacts({ lines: o.lines, fraud: null, backorder: null, review: null, released_at: null, cancelled_at: null, rejection: null, ...NO_PROGRESS })),
    channel: o.channel,
    source: o.source ?? null,
    external_id: o.externalId ?? null,
    customer_id: o.customer.id,
    customer_email: o.customer.email?.toLowerCase() ?? null,
    address_key: addressKey(o),
    customer: o.customer,
    lines: JSON.stringify(o.lines),
    currency: o.currency,
    total: o.total,
    delivery: o.delivery,
    payment_method: o.payment.method,
    payment_fingerprint: paymentFingerprint(o),
    placed_by: o.placedBy,
    placed_at: o.placedAt,
    updated_at: o.placedAt,
  };
}
