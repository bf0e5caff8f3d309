import DataLoader from 'dataloader';
import type { Knex } from 'knex';
import type { Notification } from './notifier.port.js';

export interface OutboxEntry { payload: Notification; sent_at: Date | null }

/**
 * Puts notifications into the `notifications` outbox table, once each: the notifications of the
 * jobs running within 2 ms of each other go in one statement. Each caller gets the entry as
 * stored (the first notification with its id, and whether it has been sent).
 */
export function batchedOutbox(knex: Knex): (n: Notification) => Promise<OutboxEntry> {
  const loader = new DataLoader<Notification, OutboxEntry>(async (notifications) => {
    const unique = [...new Map(notifications.map((n) => [n.id, n])).values()];
    const { rows } = await knex.raw(
      `INSERT INTO notifications (notification_id, order_id, kind, payload)
       SELECT * FROM jsonb_to_recordset(?::jsonb) AS v(notification_id uuid, order_id text, kind text, payload jsonb)
       ON CONFLICT (notification_id) DO UPDATE SET notification_id = excluded.notification_id
       RETURNING notification_id, payload, sent_at`,
      [JSON.stringify(unique.map((n) => ({ notification_id: n.id, order_id: n.orderId, kind: n.kind, payload: n })))],
    );
    const byId = new Map<string, OutboxEntry>(rows.map((r: OutboxEntry & { notification_id: string }) => [r.notification_id, { payload: r.payload, sent_at: r.sent_at }]));
    return notifications.map((n) => byId.get(n.id) ?? new Error(`notification ${n.id} was not stored`));
  }, { cache: false, maxBatchSize: 500, batchScheduleFn: (run) => setTimeout(run, 2) });
  return (n) => loader.load(n);
}
