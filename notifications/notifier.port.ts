export type NotificationKind = 'order_confirmed' | 'order_on_hold' | 'order_rejected' | 'order_cancelled'
  | 'order_shipped' | 'out_for_delivery' | 'order_delivered' | 'delivery_exception' | 'ready_for_pickup'
  | 'return_label_ready' | 'return_received' | 'refund_issued';

/** A message to a customer about their order; `id` is the event it tells of, so a resend is recognisable. */
export interface Notification {
  id: string;
  orderId: string;
  kind: NotificationKind;
  at: string;
  customer: { id: string; email?: string; name?: string };
  data: Record<string, unknown>;
}

export interface Notifier {
  /** Delivers the notification or throws; called again with the same id after a failure. */
  send(n: Notification): Promise<void>;
}
