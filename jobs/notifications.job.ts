import { UnrecoverableError, type Job } from 'bullmq';
import type { Knex } from 'knex';
import type { Notification, NotificationKind, Notifier } from '../notifications/notifier.port.js';
import type { Recorded } from '../write-side/to-domain.js';
import type { OutboxEntry } from '../notifications/outbox.js';
import type { WriteSide } from '../write-side/commands.js';
import { placedOrder } from './placed-order.js';

export interface NotificationDeps {
  write: WriteSide;
  knex: Knex;
  /** Stores a notification in the outbox once (see batchedOutbox). */
  outbox(n: Notification): Promise<OutboxEntry>;
  notifier?: Notifier;
}

type EventData = Record<string, unknown>;

/** What the customer is told of an event, if anything, and the event's details that go with it. */
export interface NotifyingEvent { eventType: string; kind(data: EventData): NotificationKind | null; details?(data: EventData): EventData }

const TRACKING_KINDS: Partial<Record<string, NotificationKind>> = { out_for_delivery: 'out_for_delivery', delivered: 'order_delivered', exception: 'delivery_exception' };

export const NOTIFYING_EVENTS: NotifyingEvent[] = [
  { eventType: 'OrderPlaced', kind: () => 'order_confirmed' },
  { eventType: 'OrderHeld', kind: () => 'order_on_hold' },
  { eventType: 'OrderRejected', kind: () => 'order_rejected' },
  { eventType: 'OrderCancelled', kind: () => 'order_cancelled' },
  { eventType: 'FulfilmentShipped', kind: () => 'order_shipped', details: (d) => ({ carrierId: d.carrierId, trackingNumber: d.trackingNumber, lines: d.lines }) },
  // Only updates that moved the shipment on: an old update arriving late tells the customer nothing new.
  { eventType: 'ShipmentTracked', kind: (d) => (d.moved ? TRACKING_KINDS[String(d.status)] ?? null : null),
    details: (d) => ({ carrierId: d.carrierId, trackingNumber: d.trackingNumber, status: d.status, ...(d.detail ? { detail: d.detail } : {}) }) },
  { eventType: 'FulfilmentReadyForPickup', kind: () => 'ready_for_pickup', details: (d) => ({ locationId: d.locationId, code: d.code, expiresAt: d.expiresAt }) },
  // Returns: the label to print, the parcel in, the money on its way back (a receipt owed nothing tells nothing).
  { eventType: 'ReturnLabelled', kind: () => 'return_label_ready',
    details: (d) => { const label = d.label as { carrierId: string; trackingNumber: string; labelUrl: string }; return { returnId: d.returnId, carrierId: label.carrierId, trackingNumber: label.trackingNumber, labelUrl: label.labelUrl }; } },
  { eventType: 'ReturnReceived', kind: () => 'return_received', details: (d) => ({ returnId: d.returnId, lines: d.lines }) },
  { eventType: 'ReturnRefunded', kind: (d) => (Number(d.amount) > 0 ? 'refund_issued' : null), details: (d) => ({ returnId: d.returnId, amount: d.amount }) },
];

/** The notification job's data for an event that tells the customer something, or null. */
export function notificationJob(e: Recorded): { kind: NotificationKind; details: EventData } | null {
  const n = NOTIFYING_EVENTS.find((x) => x.eventType === e.type);
  const kind = n?.kind(e.data as EventData) ?? null;
  return kind && n ? { kind, details: n.details?.(e.data as EventData) ?? {} } : null;
}

/**
 * Tells the customer what happened to their order: the notification goes into the outbox table
 * (what operators and tests read), then to the notifier if one is configured. Both are keyed by
 * the event, so a retried job neither writes nor sends a second notification once one went out.
 */
export async function notifyCustomer(job: Job<{ orderId: string; eventId: string; eventType: string; kind?: NotificationKind; details?: EventData }>, deps: NotificationDeps): Promise<void> {
  const { orderId, eventId, eventType } = job.data;
  // Jobs enqueued before notifications carried their kind name only their event.
  const kind = job.data.kind ?? NOTIFYING_EVENTS.find((n) => n.eventType === eventType)?.kind({});
  if (!kind) throw new UnrecoverableError(`no notification for ${eventType}`);
  // What the customer is told comes from the order: placement facts may be as last seen here,
  // a cancellation or rejection is read fresh.
  const order = await placedOrder(deps.write, orderId, { fresh: kind !== 'order_confirmed' });
  const o = order.order;
  const data: Record<string, unknown> = { channel: o.channel, externalId: o.externalId ?? null, total: o.total, currency: o.currency, ...job.data.details };
  if (kind === 'order_cancelled') data.reason = order.cancellation?.reason;
  if (kind === 'order_rejected') data.reason = order.rejection?.cause;
  const n: Notification = { id: eventId, orderId, kind, at: new Date().toISOString(), customer: o.customer, data };
  // Into the outbox once; a retry gets the first notification back, and whether it went out.
  const row = await deps.outbox(n);
  if (!deps.notifier || row.sent_at) return;
  try {
    await deps.notifier.send(row.payload as Notification);
  } catch (err) {
    await markAttempt(deps, eventId, { last_error: String((err as Error).message) });
    throw err;
  }
  await markAttempt(deps, eventId, { sent_at: deps.knex.fn.now(), last_error: null });
}

/** Counts a delivery attempt on the outbox row, with what came of it. */
async function markAttempt(deps: NotificationDeps, notificationId: string, outcome: Record<string, unknown>): Promise<void> {
  await deps.knex('notifications').where({ notification_id: notificationId }).update({ attempts: deps.knex.raw('attempts + 1'), ...outcome });
}
