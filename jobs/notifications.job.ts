import { UnrecoverableError, type Job } from 'bullmq';
import type { Knex } from 'knex';
import type { Notification, Notifier } from '../notifications/notifier.port.js';
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

const KIND_BY_EVENT: Record<string, Notification['kind']> = {
  OrderPlaced: 'order_confirmed', OrderHeld: 'order_on_hold', OrderRejected: 'order_rejected', OrderCancelled: 'order_cancelled',
};
export const NOTIFYING_EVENTS = Object.keys(KIND_BY_EVENT);

/**
 * Tells the customer what happened to their order: the notification goes into the outbox table
 * (what operators and tests read), then to the notifier if one is configured. Both are keyed by
 * the event, so a retried job neither writes nor sends a second notification once one went out.
 */
export async function notifyCustomer(job: Job<{ orderId: string; eventId: string; eventType: string }>, deps: NotificationDeps): Promise<void> {
  const { orderId, eventId, eventType } = job.data;
  const kind = KIND_BY_EVENT[eventType];
  if (!kind) throw new UnrecoverableError(`no notification for ${eventType}`);
  // What the customer is told comes from the order: placement facts may be as last seen here,
  // a cancellation or rejection is read fresh.
  const order = await placedOrder(deps.write, orderId, { fresh: kind !== 'order_confirmed' });
  const o = order.order;
  const data: Record<string, unknown> = { channel: o.channel, externalId: o.externalId ?? null, total: o.total, currency: o.currency };
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
