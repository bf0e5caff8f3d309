import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/event-store.port.js';
import type { OrderEvent, PlacedOrder } from '../write-side/orders/order.events.js';
import { addressKey } from '../read-side/orders.queries.js';
import { UnappliableEvent, type Projection } from './projection.js';

// Orders with their timeline: what GET /orders and GET /orders/{id} serve.

export const ordersProjection: Projection = {
  name: 'orders',
  handles: ['OrderPlaced', 'OrderCancelled', 'FraudAssessed'] satisfies OrderEvent['type'][],
  async apply(event, trx) {
    const e = event as unknown as OrderEvent;
    switch (e.type) {
      case 'OrderPlaced': {
        const o = e.data;
        await trx('orders').insert({
          order_id: o.orderId,
          placed_position: event.position,
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
        }).onConflict('order_id').ignore();
        await timeline(trx, event, o.orderId, o.placedAt, { channel: o.channel, total: o.total, currency: o.currency });
        return;
      }
      case 'OrderCancelled':
        await update(trx, event, e.data.orderId, { status: 'cancelled', updated_at: e.data.at });
        await timeline(trx, event, e.data.orderId, e.data.at, { reason: e.data.reason });
        return;
      case 'FraudAssessed': {
        const { score, decision, reasons } = e.data;
        await update(trx, event, e.data.orderId, { fraud: { score, decision, reasons }, updated_at: e.data.at });
        await timeline(trx, event, e.data.orderId, e.data.at, { score, decision });
        return;
      }
      default: {
        const unknown: never = e;
        void unknown;
      }
    }
  },
};

async function update(trx: Knex.Transaction, event: RecordedEvent, orderId: string, changes: Record<string, unknown>): Promise<void> {
  const n = await trx('orders').where({ order_id: orderId }).update(changes);
  if (n === 0) throw new UnappliableEvent(`${event.type} for unknown order ${orderId}`);
}

async function timeline(trx: Knex.Transaction, event: RecordedEvent, orderId: string, at: string, details: Record<string, unknown>): Promise<void> {
  await trx('order_timeline').insert({ order_id: orderId, position: event.position, at, type: event.type, details })
    .onConflict(['order_id', 'position']).ignore();
}

function initialPaymentStatus(o: PlacedOrder): string {
  switch (o.payment.method) {
    case 'card': return 'pending';
    case 'cash_on_delivery': return 'due_on_delivery';
    case 'prepaid': return 'paid';
  }
}
