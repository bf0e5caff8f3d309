import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/event-store.port.js';
import { addressKey, paymentFingerprint } from '../read-side/orders.queries.js';
import type { OrderEvent, PlacedOrder } from '../write-side/orders/order.events.js';
import { UnappliableEvent, type Projection } from './projection.js';

// Orders with their timeline: what GET /orders and GET /orders/{id} serve. A batch is applied in
// three statements: new orders, the changes to orders (folded per order, in log order), and the
// timeline entries.

interface Patch {
  order_id: string; fraud?: unknown; allocations?: unknown; backorder?: unknown; backorder_set?: boolean; held?: boolean; review?: unknown;
  released_at?: string; cancelled_at?: string; rejection?: unknown; payment?: Record<string, unknown>; updated_at: string;
}

export const ordersProjection: Projection = {
  name: 'orders',
  handles: ['OrderPlaced', 'OrderCancelled', 'FraudAssessed', 'OrderAllocated', 'OrderBackordered', 'OrderHeld', 'OrderReviewed', 'OrderReleased',
    'OrderRejected', 'PaymentAuthorized', 'PaymentDeclined', 'PaymentCaptured', 'PaymentVoided', 'PaymentRefunded'] satisfies OrderEvent['type'][],

  async apply(event, trx) {
    await applyOrders([event], trx);
  },

  applyBatch: applyOrders,
};

async function applyOrders(events: RecordedEvent[], trx: Knex.Transaction): Promise<void> {
  const placed: Record<string, unknown>[] = [];
  const patches = new Map<string, Patch>();
  const timeline: Record<string, unknown>[] = [];
  const patch = (orderId: string, at: string, change: Partial<Patch>) => {
    const before = patches.get(orderId);
    const payment = change.payment ? { ...before?.payment, ...change.payment } : before?.payment;
    patches.set(orderId, { ...(before ?? { order_id: orderId }), ...change, ...(payment ? { payment } : {}), updated_at: at });
  };
  const entry = (event: RecordedEvent, orderId: string, at: string, details: Record<string, unknown>) => {
    timeline.push({ order_id: orderId, position: event.position, at, type: event.type, details });
  };

  for (const event of events) {
    const e = event as unknown as OrderEvent;
    switch (e.type) {
      case 'OrderPlaced':
        placed.push(orderRow(e.data, event.position));
        entry(event, e.data.orderId, e.data.placedAt, { channel: e.data.channel, total: e.data.total, currency: e.data.currency });
        break;
      case 'OrderCancelled':
        patch(e.data.orderId, e.data.at, { cancelled_at: e.data.at });
        entry(event, e.data.orderId, e.data.at, { reason: e.data.reason });
        break;
      case 'FraudAssessed': {
        const { score, decision, reasons } = e.data;
        patch(e.data.orderId, e.data.at, { fraud: { score, decision, reasons } });
        entry(event, e.data.orderId, e.data.at, { score, decision });
        break;
      }
      case 'OrderAllocated': {
        const { allocations, transfers, why, cost } = e.data;
        patch(e.data.orderId, e.data.at, { allocations: allocations.map((a) => ({ ...a, transfers: transfers.filter((t) => t.from === a.locationId) })), backorder: null, backorder_set: true });
        entry(event, e.data.orderId, e.data.at, { why, cost, locations: allocations.map((a) => a.locationId) });
        break;
      }
      case 'OrderBackordered': {
        const { missing, why } = e.data;
        patch(e.data.orderId, e.data.at, { backorder: { missing, why }, backorder_set: true });
        entry(event, e.data.orderId, e.data.at, { why, missing });
        break;
      }
      case 'OrderHeld':
        patch(e.data.orderId, e.data.at, { held: true });
        entry(event, e.data.orderId, e.data.at, { reason: e.data.reason });
        break;
      case 'OrderReviewed': {
        const { decision, note, reviewer, at } = e.data;
        patch(e.data.orderId, at, { held: false, review: { decision, note: note ?? null, reviewer, at } });
        entry(event, e.data.orderId, at, { decision, note: note ?? null, reviewer });
        break;
      }
      case 'OrderReleased':
        patch(e.data.orderId, e.data.at, { released_at: e.data.at });
        entry(event, e.data.orderId, e.data.at, {});
        break;
      case 'OrderRejected': {
        const { cause, detail, at } = e.data;
        patch(e.data.orderId, at, { rejection: { cause, detail, at } });
        entry(event, e.data.orderId, at, { cause, detail });
        break;
      }
      case 'PaymentAuthorized':
        patch(e.data.orderId, e.data.at, { payment: { authorizationId: e.data.authorizationId, authorized: e.data.amount } });
        entry(event, e.data.orderId, e.data.at, { amount: e.data.amount });
        break;
      case 'PaymentDeclined':
        patch(e.data.orderId, e.data.at, { payment: { declined: { code: e.data.code, detail: e.data.detail } } });
        entry(event, e.data.orderId, e.data.at, { code: e.data.code, detail: e.data.detail });
        break;
      case 'PaymentCaptured':
        patch(e.data.orderId, e.data.at, { payment: { captured: e.data.totalCaptured } });
        entry(event, e.data.orderId, e.data.at, { amount: e.data.amount });
        break;
      case 'PaymentVoided':
        patch(e.data.orderId, e.data.at, { payment: { voided: true } });
        entry(event, e.data.orderId, e.data.at, {});
        break;
      case 'PaymentRefunded':
        patch(e.data.orderId, e.data.at, { payment: { refunded: e.data.totalRefunded } });
        entry(event, e.data.orderId, e.data.at, { amount: e.data.amount });
        break;
      default: {
        const unknown: never = e;
        void unknown;
      }
    }
  }

  if (placed.length > 0) await trx('orders').insert(placed).onConflict('order_id').ignore();
  if (patches.size > 0) {
    const { rows } = await trx.raw(
      `UPDATE orders o SET fraud = coalesce(v.fraud, o.fraud),
              allocations = coalesce(v.allocations, o.allocations),
              backorder = CASE WHEN v.backorder_set THEN v.backorder ELSE o.backorder END,
              held = coalesce(v.held, o.held), review = coalesce(v.review, o.review),
              released_at = coalesce(o.released_at, v.released_at), cancelled_at = coalesce(o.cancelled_at, v.cancelled_at),
              rejection = coalesce(o.rejection, v.rejection), payment = o.payment || coalesce(v.payment, '{}'),
              updated_at = greatest(o.updated_at, v.updated_at)
         FROM jsonb_to_recordset(?::jsonb) AS v(order_id text, fraud jsonb, allocations jsonb, backorder jsonb,
              backorder_set boolean, held boolean, review jsonb, released_at timestamptz, cancelled_at timestamptz, rejection jsonb,
              payment jsonb, updated_at timestamptz)
        WHERE o.order_id = v.order_id
        RETURNING o.order_id`,
      [JSON.stringify([...patches.values()])],
    );
    if (rows.length < patches.size) {
      const found = new Set(rows.map((r: { order_id: string }) => r.order_id));
      throw new UnappliableEvent(`changes for unknown orders ${[...patches.keys()].filter((id) => !found.has(id)).join(', ')}`);
    }
  }
  if (timeline.length > 0) await trx('order_timeline').insert(timeline).onConflict(['order_id', 'position']).ignore();
}

function orderRow(o: PlacedOrder, position: number): Record<string, unknown> {
  return {
    order_id: o.orderId,
    placed_position: position,
    status: 'received',
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
    payment_status: initialPaymentStatus(o),
    payment_fingerprint: paymentFingerprint(o),
    placed_by: o.placedBy,
    placed_at: o.placedAt,
    updated_at: o.placedAt,
  };
}

function initialPaymentStatus(o: PlacedOrder): string {
  switch (o.payment.method) {
    case 'card': return 'pending';
    case 'cash_on_delivery': return 'due_on_delivery';
    case 'prepaid': return 'paid';
  }
}
