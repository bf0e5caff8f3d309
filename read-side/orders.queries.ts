import type { Knex } from 'knex';
import type { PlacedOrder } from '../write-side/orders/order.events.js';

export interface OrderRow {
  order_id: string; placed_position: number; status: string; channel: string; source: string | null; external_id: string | null;
  customer: unknown; lines: unknown; currency: string; total: number; delivery: unknown; payment_method: string; payment_status: string;
  fraud: { score: number; decision: string; reasons: unknown[] } | null; allocations: unknown[]; backorder: unknown; shipments: unknown[]; returns: unknown[];
  placed_by: string; placed_at: Date; updated_at: Date; customer_id: string;
}

export async function findOrder(knex: Knex, orderId: string) {
  const row = await knex<OrderRow>('orders').where({ order_id: orderId }).first();
  if (!row) return null;
  const timeline = await knex('order_timeline').where({ order_id: orderId }).orderBy('position').select('at', 'type', 'details');
  return {
    placedBy: row.placed_by,
    view: {
      ...summary(row),
      customer: row.customer,
      lines: row.lines,
      delivery: row.delivery,
      payment: { method: row.payment_method, status: row.payment_status },
      fraud: row.fraud,
      allocations: row.allocations,
      backorder: row.backorder,
      shipments: row.shipments,
      returns: row.returns,
      updatedAt: row.updated_at.toISOString(),
      timeline: timeline.map((t: { at: Date; type: string; details: Record<string, unknown> }) => ({ at: t.at.toISOString(), type: t.type, ...t.details })),
    },
  };
}

export interface OrderFilter { status?: string; channel?: string; limit: number; before?: number }

/** Newest first; `before` is the cursor of the last order of the previous page. */
export async function listOrders(knex: Knex, f: OrderFilter) {
  const q = knex<OrderRow>('orders').orderBy('placed_position', 'desc').limit(f.limit + 1);
  if (f.status) q.where({ status: f.status });
  if (f.channel) q.where({ channel: f.channel });
  if (f.before !== undefined) q.where('placed_position', '<', f.before);
  const rows = await q;
  const page = rows.slice(0, f.limit);
  return { orders: page.map(summary), next: rows.length > f.limit ? page[page.length - 1].placed_position : null };
}

function summary(row: OrderRow) {
  return {
    orderId: row.order_id,
    status: row.status,
    channel: row.channel,
    source: row.source,
    externalId: row.external_id,
    customerId: row.customer_id,
    currency: row.currency,
    total: Number(row.total),
    placedAt: row.placed_at.toISOString(),
  };
}

export interface VelocityCounts { customer1h: number; customer24h: number; email24h: number; address24h: number; returningCustomer: boolean }

/** Each velocity count stops here, so a hot address or email costs no more than a cold one. */
const VELOCITY_CAP = 1000;

/** How many other orders the same customer, email and address placed in the windows before `at`. */
export async function velocity(knex: Knex, o: { orderId: string; customerId: string; email: string | null; addressKey: string | null; at: string }): Promise<VelocityCounts> {
  const { rows } = await knex.raw('SELECT * FROM order_velocity(?, ?, ?, ?, ?, ?)', [o.orderId, o.customerId, o.email, o.addressKey, o.at, VELOCITY_CAP]);
  const r = rows[0];
  return {
    customer1h: Number(r.customer1h), customer24h: Number(r.customer24h), email24h: Number(r.email24h),
    address24h: Number(r.address24h), returningCustomer: r.returning_customer === true,
  };
}

/** A normalised shipping address, for velocity checks across customers. */
export function addressKey(o: Pick<PlacedOrder, 'delivery'>): string | null {
  if (o.delivery.method !== 'ship') return null;
  const a = o.delivery.address;
  return [a.line1, a.postalCode, a.country].map((s) => s.toLowerCase().replace(/[^a-z0-9]/g, '')).join('|');
}
