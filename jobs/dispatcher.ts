import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { EventStore, RecordedEvent, Subscription } from '../event-store/event-store.port.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { NOTIFYING_EVENTS, notificationJob } from './notifications.job.js';
import { toDomain, type Recorded } from '../write-side/to-domain.js';
import { OutstandingJobs } from './outstanding-jobs.js';
import { addLogJobs, QUEUES, type LogJob, type QueueName } from './queues.js';

/** Which events start which job. The job id is the event id, so an event never enqueues twice. */
export interface JobRoute {
  queue: QueueName;
  eventType: string;
  data(event: Recorded): Record<string, unknown>;
  /** Only events this holds for start the job (all when absent). */
  when?(event: Recorded): boolean;
  /** When the job is due (epoch ms), for a job that must wait (a pickup's expiry); at once when absent. */
  runAt?(event: Recorded): number;
}

const orderJob = (e: Recorded) => ({ orderId: (e.data as { orderId: string }).orderId, eventId: e.id, eventType: e.type, position: e.position });
const fulfilmentJob = (e: Recorded) => ({ ...orderJob(e), fulfilmentId: (e.data as { fulfilmentId: string }).fulfilmentId });
const pick = (e: Recorded, ...keys: string[]) => Object.fromEntries(keys.map((k) => [k, (e.data as Record<string, unknown>)[k]]));
const skuJob = (e: Recorded) => ({ sku: (e.data as { sku: string }).sku, eventId: e.id, position: e.position });

/** Stock events after which a backordered order might be filled. */
const STOCK_FREED = ['StockReceived', 'StockReturned', 'StockTransferredIn', 'StockAdjusted', 'StockReservationReleased', 'SafetyStockSet'];

/**
 * The order lifecycle's effects. A placed order is scored and its card authorised; a cancelled
 * or rejected one settles its payment (void or refund) and its stock (the sourcing process);
 * with the `on_release` capture policy a released order is captured, with `on_shipment` each
 * fulfilment that ships or is collected captures its share. Customers hear of each step that
 * concerns them.
 */
export function jobRoutes(options: { captureOnRelease?: boolean } = {}): JobRoute[] {
  return [
    { queue: QUEUES.fraudScoring, eventType: 'OrderPlaced', data: orderJob },
    { queue: QUEUES.payments, eventType: 'OrderPlaced', data: orderJob },
    { queue: QUEUES.payments, eventType: 'OrderCancelled', data: orderJob },
    { queue: QUEUES.payments, eventType: 'OrderRejected', data: orderJob },
    ...(options.captureOnRelease
      ? [{ queue: QUEUES.payments, eventType: 'OrderReleased', data: orderJob }]
      : ['OrderFulfilmentShipped', 'OrderCollected'].map((eventType) => ({ queue: QUEUES.payments, eventType, data: fulfilmentJob }))),
    ...NOTIFYING_EVENTS.map(({ eventType }) => ({
      queue: QUEUES.notifications, eventType, when: (e: Recorded) => notificationJob(e) !== null, data: (e: Recorded) => ({ ...orderJob(e), ...notificationJob(e) }),
    })),
    // A packed fulfilment's label is a carrier job, and so is voiding a cancelled one's; a pickup at the counter expires by a job due at its expiry.
    { queue: QUEUES.labels, eventType: 'FulfilmentPacked', data: fulfilmentJob },
    { queue: QUEUES.labels, eventType: 'FulfilmentCancelled', data: fulfilmentJob },
    { queue: QUEUES.pickups, eventType: 'FulfilmentReadyForPickup', runAt: (e: Recorded) => Date.parse((e.data as { expiresAt: string }).expiresAt),
      data: (e: Recorded) => ({ ...fulfilmentJob(e), expiresAt: (e.data as { expiresAt: string }).expiresAt }) },
    // A return coming back from the customer's address is sent with a label bought by a carrier job
    // (on the labels queue, told apart by its name); one brought back to a store's counter needs none.
    { queue: QUEUES.labels, eventType: 'ReturnOpened', when: (e: Recorded) => (e.data as { origin: { kind: string } }).origin.kind === 'address',
      data: (e: Recorded) => ({ ...orderJob(e), ...pick(e, 'returnId') }) },
    // Each receipt of a return is refunded by a job of its own.
    { queue: QUEUES.refunds, eventType: 'ReturnReceived', data: (e: Recorded) => ({ ...orderJob(e), ...pick(e, 'returnId', 'receiptId') }) },
    ...STOCK_FREED.map((eventType) => ({ queue: QUEUES.backorders, eventType, data: skuJob })),
    { queue: QUEUES.backorders, eventType: 'OrderBackordered', data: orderJob },
    // Lines given back and backordered may find stock that arrived while they were being re-sourced.
    { queue: QUEUES.backorders, eventType: 'OrderReallocated', when: (e: Recorded) => (e.data as { backordered: unknown[] }).backordered.length > 0, data: orderJob },
  ];
}

export const JOB_ROUTES: JobRoute[] = jobRoutes();

/**
 * Turns the event log into jobs. A batch is enqueued, then the checkpoint moves; a crash in
 * between, or a second dispatcher reading the same events, enqueues job ids BullMQ already
 * holds, which it ignores. No database transaction waits on Redis. The jobs handed over are
 * watched until they finish (OutstandingJobs), so a Redis that loses them gets them back.
 */
export class Dispatcher {
  private subscription?: Subscription;
  private readonly outstanding: OutstandingJobs;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: EventStore,
    private readonly knex: Knex,
    private readonly queues: Map<QueueName, Queue>,
    redis: Redis,
    private readonly log: Logger,
    private readonly options: {
      metrics?: Metrics; routes?: JobRoute[]; name?: string; batchSize?: number; gatherMs?: number;
      /** How often Redis is asked about the jobs not yet finished. */
      reconcileMs?: number;
      /** Puts back what the queues keep in Redis, after Redis has lost its data. */
      onRedisReset?: () => Promise<void>;
      /** Jobs younger than this are not asked about yet (2 s): most finish within it. */
      reconcileMinAgeMs?: number;
    } = {},
  ) {
    this.outstanding = new OutstandingJobs(knex, queues, redis, log, {
      name: this.name, metrics: options.metrics, onRedisReset: options.onRedisReset, minAgeMs: options.reconcileMinAgeMs,
    });
  }

  private get name(): string { return this.options.name ?? 'jobs'; }

  async start(): Promise<void> {
    const from = await this.outstanding.start();
    this.subscription = this.store.subscribe({
      after: from,
      batchSize: this.options.batchSize,
      gatherMs: this.options.gatherMs,
      onEvents: (events) => this.dispatch(events),
      onError: (err) => this.log.error({ err }, 'dispatch failed; retrying'),
    });
    this.timer = setInterval(() => void this.reconcile(), this.options.reconcileMs ?? 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.subscription?.stop();
    this.subscription = undefined;
    await this.reconcile();
  }

  /** Asks Redis about the jobs not yet finished, handing it again those it lost; failures are logged and retried next time. */
  async reconcile(): Promise<void> {
    await this.outstanding.reconcile().catch((err) => this.log.warn({ err: (err as Error).message }, 'could not reconcile jobs with Redis; trying again'));
  }

  async dispatch(events: RecordedEvent[]): Promise<void> {
    const name = this.name;
    const jobs: LogJob[] = [];
    for (const e of events.map((r) => toDomain(r))) {
      for (const r of this.options.routes ?? JOB_ROUTES) {
        if (r.eventType === e.type && (!r.when || r.when(e))) jobs.push({ queue: r.queue, jobId: e.id, name: e.type, data: r.data(e), position: e.position, ...(r.runAt ? { runAt: r.runAt(e) } : {}) });
      }
    }
    for (const [queue, n] of await addLogJobs(this.queues, jobs)) this.options.metrics?.jobsEnqueued.inc({ queue }, n);
    const last = events[events.length - 1].position;
    this.outstanding.track(jobs, last);
    await this.knex.raw(
      `INSERT INTO dispatcher_checkpoints (name, position) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()
       WHERE dispatcher_checkpoints.position < excluded.position`,
      [name, last],
    );
  }
}
