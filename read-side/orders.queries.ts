import { createHash } from 'node:crypto';
import DataLoader from 'dataloader';
import type { Knex } from 'knex';
import { returnsOfOrder } from './returns.queries.js';
import { shipmentsOfOrder, transfersOfOrder } from './fulfilments.queries.js';
import type { Payment, PlacedOrder } from '../write-side/orders/order.events.js';
import type { AllocationPart, PickupRecord, ShipmentRecord } from '../write-side/orders/order-progress.js';
import { paymentStatus } from '../write-side/orders/payment-ledger.js';

export interface OrderRow {
  order_id: string; placed_position: number; status: string; channel: string; source: string | null; external_id: string | null;
  customer: unknown; lines: unknown; currency: string; total: number; delivery: unknown; payment_method: Payment['method'];
  fraud: { score: number; decision: string; reasons: unknown[] } | null; allocations: AllocationPart[]; backorder: unknown; shipments: ShipmentRecord[];
  pickups: PickupRecord[]; returns: unknown[];
  placed_by: string; placed_at: Date; updated_at: Date; customer_id: string;
  review: unknown; rejection: unknown;
  payment: { authorizationId?: string; authorized?: number; captured?: number; refunded?: number; voided?: boolean; declined?: { code: string; detail: string } };
}

/** The payment as the contract shows it: its status, and for cards the amounts of the order's payment ledger. */
function paymentView(row: OrderRow) {
  const p = row.payment ?? {};
  const ledger = {
    authorizationId: p.authorizationId ?? null, authorized: p.authorized ?? 0, captured: p.captured ?? 0, refunded: p.refunded ?? 0,
    voided: p.voided ?? false, declined: p.declined ?? null,
  };
  const status = paymentStatus(row.payment_method, ledger);
  if (row.payment_method !== 'card') return { method: row.payment_method, status };
  const { authorized, captured, refunded, declined } = ledger;
  return { method: row.payment_method, status, authorized, captured, refunded, ...(declined ? { declined } : {}) };
}

/** Orders on fraud hold, oldest first: the operators' review queue. */
export async function ordersOnHold(knex: Knex, limit: number) {
  const rows = await knex<OrderRow>('orders').where({ status: 'on_hold' }).orderBy('placed_position').limit(limit);
  return rows.map((row) => ({ ...summary(row), fraud: row.fraud, lines: row.lines, delivery: row.delivery }));
}

/** Who is reading an order: the pickup code is shown only to operators and to the client whose key placed it. */
export interface OrderViewer { role: string; keyId: string }

/** The pickup waiting at the counter (or the last one, once collected), for a viewer who may collect it or hand it over. */
function pickupView(row: OrderRow, viewer: OrderViewer) {
  const mayCollect = viewer.role === 'operator' || viewer.role === 'admin' || (viewer.role === 'client' && viewer.keyId === row.placed_by);
  const pickup = row.pickups.find((x) => x.collected === null) ?? row.pickups.at(-1);
  return mayCollect && pickup ? { code: pickup.code, readyAt: pickup.readyAt, expiresAt: pickup.expiresAt } : null;
}

const shipmentView = (s: ShipmentRecord) => ({
  shipmentId: s.fulfilmentId, fulfilmentId: s.fulfilmentId, locationId: s.locationId, lines: s.lines, shippedAt: s.shippedAt, deliveredAt: s.deliveredAt,
});

export async function findOrder(knex: Knex, orderId: string, viewer: OrderViewer) {
  const row = await knex<OrderRow>('orders').where({ order_id: orderId }).first();
  if (!row) return null;
  const timeline = await knex('order_timeline').where({ order_id: orderId }).orderBy('position').select('at', 'type', 'details');
  const carried = row.shipments.length > 0 ? await shipmentsOfOrder(knex, orderId) : new Map();
  const pickup = (row.delivery as { method: string }).method === 'pickup';
  return {
    placedBy: row.placed_by,
    view: {
      ...summary(row),
      customer: row.customer,
      lines: row.lines,
      delivery: row.delivery,
      payment: paymentView(row),
      review: row.review,
      rejection: row.rejection,
      fraud: row.fraud,
      allocations: row.allocations,
      backorder: row.backorder,
      // What the order records of each handover, with what its fulfilment knows of the label and tracking.
      shipments: row.shipments.map((s) => ({ ...carried.get(s.fulfilmentId), ...shipmentView(s) })),
      pickup: pickupView(row, viewer),
      // What is sent to the pickup store for it: these are not shipments to the customer.
      ...(pickup ? { transfers: await transfersOfOrder(knex, orderId) } : {}),
      returns: await returnsOfOrder(knex, orderId),
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

export interface VelocityCounts {
  customer1h: number; customer24h: number; email1h: number; email24h: number; address1h: number; address24h: number;
  card1h: number; card24h: number; returningCustomer: boolean;
}

/** Each velocity count stops here, so a hot address or email costs no more than a cold one. */
const VELOCITY_CAP = 1000;

export interface VelocityQuery { orderId: string; position: number; customerId: string; email: string | null; addressKey: string | null; card: string | null; at: string }

/**
 * Velocity counts for the orders asked for within 2 ms of each other, in one statement, each
 * counted only once the orders read model has taken in the order itself (and so every order
 * before it): an order the model has not reached yet gets `null`, to ask again.
 */
export function batchedVelocity(knex: Knex): (q: VelocityQuery) => Promise<VelocityCounts | null> {
  const loader = new DataLoader<VelocityQuery, VelocityCounts | null>(async (queries) => {
    const { rows } = await knex.raw(
      `SELECT r.i, s.* FROM (SELECT position FROM projection_checkpoints WHERE name = 'orders') cp
         CROSS JOIN jsonb_to_recordset(?::jsonb) AS r(i int, order_id text, position bigint, customer text, email text, address text, card text, at timestamptz)
         CROSS JOIN LATERAL (SELECT * FROM order_signals(r.order_id, r.customer, r.email, r.address, r.card, r.at, ?) WHERE r.position <= cp.position) s`,
      [JSON.stringify(queries.map((q, i) => ({ i, order_id: q.orderId, position: q.position, customer: q.customerId, email: q.email, address: q.addressKey, card: q.card, at: q.at }))), VELOCITY_CAP],
    );
    const found = new Map<number, VelocityCounts>(rows.map((r: Record<string, unknown>) => [Number(r.i), {
      customer1h: Number(r.customer1h), customer24h: Number(r.customer24h), email1h: Number(r.email1h), email24h: Number(r.email24h),
      address1h: Number(r.address1h), address24h: Number(r.address24h), card1h: Number(r.card1h), card24h: Number(r.card24h),
      returningCustomer: r.returning_customer === true,
    }]));
    return queries.map((_, i) => found.get(i) ?? null);
  }, { cache: false, maxBatchSize: 500, batchScheduleFn: (run) => setTimeout(run, 2) });
  return (q) => loader.load(q);
}

/** A card token's fingerprint for velocity checks: the token itself is not kept in the read model. */
export function paymentFingerprint(o: Pick<PlacedOrder, 'payment'>): string | null {
  return o.payment.method === 'card' ? createHash('sha256').update(o.payment.token).digest('base64url').slice(0, 22) : null;
}

/** A normalised shipping address, for velocity checks across customers. */
export function addressKey(o: Pick<PlacedOrder, 'delivery'>): string | null {
  if (o.delivery.method !== 'ship') return null;
  const a = o.delivery.address;
  return [a.line1, a.postalCode, a.country].map((s) => s.toLowerCase().replace(/[^a-z0-9]/g, '')).join('|');
}
