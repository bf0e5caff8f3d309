import type { Queue } from 'bullmq';
import type { Knex } from 'knex';
import type { EventStore, RecordedEvent, Subscription } from '../event-store/event-store.port.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { QUEUES, type QueueName } from './queues.js';

/** Which events start which job. The job id is the event id, so an event never enqueues twice. */
export interface JobRoute {
  queue: QueueName;
  eventType: string;
  data(event: RecordedEvent): Record<string, unknown>;
}

export const JOB_ROUTES: JobRoute[] = [
  { queue: QUEUES.fraudScoring, eventType: 'OrderPlaced', data: (e) => ({ orderId: (e.data as { orderId: string }).orderId, eventId: e.id }) },
];

/**
 * Turns the event log into jobs. The checkpoint row is locked while a batch is enqueued, so a
 * second dispatcher waits rather than racing; a crash between enqueue and checkpoint replays the
 * batch, and BullMQ ignores a job id it already holds.
 */
export class Dispatcher {
  private subscription?: Subscription;

  constructor(
    private readonly store: EventStore,
    private readonly knex: Knex,
    private readonly queues: Map<QueueName, Queue>,
    private readonly log: Logger,
    private readonly options: { metrics?: Metrics; routes?: JobRoute[]; name?: string; batchSize?: number } = {},
  ) {}

  private get name(): string { return this.options.name ?? 'jobs'; }

  async start(): Promise<void> {
    const row = await this.knex('dispatcher_checkpoints').where({ name: this.name }).first('position');
    this.subscription = this.store.subscribe({
      after: row ? Number(row.position) : 0,
      batchSize: this.options.batchSize,
      onEvents: (events) => this.dispatch(events),
      onError: (err) => this.log.error({ err }, 'dispatch failed; retrying'),
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  async dispatch(events: RecordedEvent[]): Promise<void> {
    const name = this.name;
    await this.knex.transaction(async (trx) => {
      await trx.raw('INSERT INTO dispatcher_checkpoints (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING', [name]);
      const row = await trx('dispatcher_checkpoints').where({ name }).forUpdate().first('position');
      const fresh = events.filter((e) => e.position > Number(row.position));
      const byQueue = new Map<QueueName, { name: string; data: Record<string, unknown>; opts: { jobId: string } }[]>();
      for (const e of fresh) {
        for (const r of this.options.routes ?? JOB_ROUTES) {
          if (r.eventType !== e.type) continue;
          const list = byQueue.get(r.queue) ?? [];
          list.push({ name: e.type, data: r.data(e), opts: { jobId: e.id } });
          byQueue.set(r.queue, list);
        }
      }
      for (const [queue, jobs] of byQueue) {
        await this.queues.get(queue)!.addBulk(jobs);
        this.options.metrics?.jobsEnqueued.inc({ queue }, jobs.length);
      }
      const last = events[events.length - 1].position;
      if (last > Number(row.position)) await trx('dispatcher_checkpoints').where({ name }).update({ position: last, updated_at: trx.fn.now() });
    });
  }
}
