import { createHmac } from 'node:crypto';
import type { Notification, Notifier } from './notifier.port.js';

/**
 * Posts each notification as JSON to a configured URL, signed so the receiver can trust it:
 * `X-OMS-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the shared secret>` and
 * `X-OMS-Timestamp`. `X-OMS-Notification-Id` lets the receiver drop a redelivery.
 */
export class WebhookNotifier implements Notifier {
  constructor(private readonly url: string, private readonly secret: string, private readonly timeoutMs = 5_000) {}

  async send(n: Notification): Promise<void> {
    const body = JSON.stringify(n);
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const res = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-oms-notification-id': n.id,
        'x-oms-timestamp': timestamp,
        'x-oms-signature': `sha256=${signature(this.secret, timestamp, body)}`,
      },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
  }
}

export function signature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}
