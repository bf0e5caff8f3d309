import type { Knex } from 'knex';
import { signature } from '../notifications/webhook-notifier.js';
import type { RateRequest, ShipmentStatus, TrackingUpdate } from './carrier.port.js';
import { addWorkingDays, handoverDay } from './sandbox-rates.js';

// How a sandbox label moves on: collected at the location's cut-off on the handover day, out for
// delivery and delivered on its estimated delivery day (a failed attempt first, with the
// delivery_exception fault). The plan is in carrier time; the sandbox's clock runs `clock` times
// faster than real time from the moment the label was made, and each update is dated with the
// real time at which it happened.

/** A label as the sandbox keeps it (a row of sandbox_carrier_labels, estimated_delivery as text). */
export interface LabelRow {
  tracking_number: string;
  carrier_id: string;
  reference: string;
  request: RateRequest;
  estimated_delivery: string;
  delivery_exception: boolean;
  created_at: Date;
  cancelled_at: Date | null;
  webhooks_sent: number;
}

interface Step { status: ShipmentStatus; carrierAt: number; detail: string; location?: string }

const MINUTE = 60_000;
const at = (day: Date, hour: number) => day.getTime() + hour * 3600_000;

export function trackingPlan(label: LabelRow): Step[] {
  const { from, to, readyAt } = label.request;
  const steps: Step[] = [{ status: 'label_created', carrierAt: label.created_at.getTime(), detail: 'Label created; the parcel is not handed over yet', location: from.locationId }];
  if (label.cancelled_at) return steps;
  const add = (status: ShipmentStatus, carrierAt: number, detail: string, location?: string) => {
    steps.push({ status, carrierAt: Math.max(carrierAt, steps[steps.length - 1].carrierAt + MINUTE), detail, location });
  };
  add('in_transit', at(handoverDay(readyAt, from.cutoffHour), from.cutoffHour), `Collected from ${from.locationId}`, from.locationId);
  let day = new Date(`${label.estimated_delivery}T00:00:00Z`);
  if (label.delivery_exception) {
    add('out_for_delivery', at(day, 8), 'With the driver', to.city);
    add('exception', at(day, 13), 'Nobody at home: another attempt on the next working day', to.city);
    day = addWorkingDays(day, 1);
  }
  add('out_for_delivery', at(day, 8), 'With the driver', to.city);
  add('delivered', at(day, 13), 'Delivered', to.city);
  return steps;
}

/** The updates that have happened by `now` when carrier time runs `clock` times faster since the label was made. */
export function trackingSoFar(label: LabelRow, now: Date, clock: number): TrackingUpdate[] {
  const t0 = label.created_at.getTime();
  return trackingPlan(label)
    .map((s) => ({ ...s, realAt: t0 + Math.max(0, s.carrierAt - t0) / clock }))
    .filter((s) => s.realAt <= now.getTime())
    .map((s) => ({
      trackingNumber: label.tracking_number, status: s.status, at: new Date(Math.floor(s.realAt)).toISOString(),
      detail: s.detail, ...(s.location ? { location: s.location } : {}),
    }));
}

export interface WebhookTarget {
  /** The service's base URL: updates go to `<baseUrl>/carriers/<carrierId>/tracking`. */
  baseUrl: string;
  /** Per carrier, the secret its webhooks are signed with. */
  secrets: Map<string, string>;
}

/**
 * Posts, as the carriers would, every tracking update of the sandbox's labels that has happened
 * and not been posted yet, oldest first per label, signed: `X-Carrier-Timestamp` (Unix seconds)
 * and `X-Carrier-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`. An update the
 * service did not take (any answer but 2xx, or no answer) is posted again on the next run, and
 * the label's later ones wait for it. Two runs at once may post an update twice, as a carrier may.
 */
export async function postTrackingWebhooks(knex: Knex, target: WebhookTarget, options: {
  clock?: number; now?: () => Date; carrierIds?: string[]; limit?: number; concurrency?: number; timeoutMs?: number;
} = {}): Promise<{ posted: number; failed: number }> {
  const now = (options.now ?? (() => new Date()))();
  const rows: LabelRow[] = await knex('sandbox_carrier_labels')
    .select('tracking_number', 'carrier_id', 'reference', 'request', knex.raw('estimated_delivery::text AS estimated_delivery'),
      'delivery_exception', 'created_at', 'cancelled_at', 'webhooks_sent')
    .where({ webhooks_done: false })
    .modify((q) => { if (options.carrierIds) q.whereIn('carrier_id', options.carrierIds); })
    .orderBy('created_at')
    .limit(options.limit ?? 1000);
  let posted = 0;
  let failed = 0;
  const post = async (label: LabelRow) => {
    const secret = target.secrets.get(label.carrier_id);
    const updates = trackingSoFar(label, now, options.clock ?? 1);
    let sent = label.webhooks_sent;
    for (const update of updates.slice(sent)) {
      if (!secret || !(await postOne(`${target.baseUrl}/carriers/${label.carrier_id}/tracking`, secret, update, options.timeoutMs ?? 5000))) {
        failed++;
        break;
      }
      posted++;
      sent++;
    }
    if (sent === label.webhooks_sent) return;
    await knex('sandbox_carrier_labels').where({ tracking_number: label.tracking_number })
      .update({ webhooks_sent: sent, webhooks_done: sent >= trackingPlan(label).length });
  };
  const queue = [...rows];
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, queue.length) }, async () => {
    for (let label = queue.shift(); label; label = queue.shift()) await post(label);
  }));
  return { posted, failed };
}

async function postOne(url: string, secret: string, update: TrackingUpdate, timeoutMs: number): Promise<boolean> {
  const body = JSON.stringify(update);
  const timestamp = Math.floor(Date.now() / 1000).toString();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-carrier-timestamp': timestamp, 'x-carrier-signature': `sha256=${signature(secret, timestamp, body)}` },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
