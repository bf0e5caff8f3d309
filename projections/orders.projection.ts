import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/event-store.port.js';
import { addressKey } from '../read-side/orders.queries.js';
import type { OrderEvent, PlacedOrder } from '../write-side/orders/order.events.js';
import { UnappliableEvent, type Projection } from './projection.js';

// Orders with their timeline: what GET /orders and GET /orders/{id} serve. A batch is applied in
// three statements: new orders, the changes to orders (folded per order, in log order), and the
// timeline entries.

interface Patch { order_id: string; status?: string; fraud?: unknown; allocations?: unknown; backorder?: unknown; backorder_set?: boolean; updated_at: string }

export const ordersProjection: Projection = {
  name: 'orders',
  handles: ['OrderPlaced', 'OrderCancelled', 'FraudAssessed', 'OrderAllocated', 'OrderBackordered'] satisfies OrderEvent['type'][],

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
    patches.set(orderId, { ...(patches.get(orderId) ?? { order_id: orderId }), ...change, updated_at: at });
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
        patch(e.data.orderId, e.data.at, { status: 'cancelled' });
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
        patch(e.data.orderId, e.data.at, { status: 'received', allocations: allocations.map((a) => ({ ...a, transfers: transfers.filter((t) => t.from === a.locationId) })), backorder: null, backorder_set: true });
        entry(event, e.data.orderId, e.data.at, { why, cost, locations: allocations.map((a) => a.locationId) });
        break;
      }
      case 'OrderBackordered': {
        const { missing, why } = e.data;
        patch(e.data.orderId, e.data.at, { status: 'backordered', backorder: { missing, why }, backorder_set: true });
        entry(event, e.data.orderId, e.data.at, { why, missing });
        break;
      }
      default: {
        const unknown: never = e;
        void unknown;
      }
    }
  }

  if (placed.length > 0) await trx('orders').insert(placed).onConflict('order_id').ignore();
  if (patches.size > 0) {
    const { rows } = await trx.raw(
      `UPDATE orders o SET status = coalesce(v.status, o.status), fraud = coalesce(v.fraud, o.fraud),
              allocations = coalesce(v.allocations, o.allocations),
              backorder = CASE WHEN v.backorder_set THEN v.backorder ELSE o.backorder END,
              updated_at = greatest(o.updated_at, v.updated_at)
         FROM jsonb_to_recordset(?::jsonb) AS v(order_id text, status text, fraud jsonb, allocations jsonb, backorder jsonb,
              backorder_set boolean, updated_at timestamptz)
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
