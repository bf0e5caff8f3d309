import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

export const QUEUES = {
  fraudScoring: 'fraud-scoring', backorders: 'backorders', payments: 'payments', notifications: 'notifications',
  labels: 'labels', tracking: 'tracking', pickups: 'pickups', refunds: 'refunds',
  /** Fulfilment process steps a rule refused, run again when an operator retries them (never from the log). */
  fulfilmentSteps: 'fulfilment-steps',
} as const;

/** How often shipments nobody has heard about are asked after at their carriers. */
export const TRACKING_POLL_EVERY_MS = 60_000;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Retries with backoff; completed jobs are kept long enough to refuse a replayed enqueue of the same id. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 24 * 3600, count: 200_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** A job the log called for: its queue, its id (the event's id), and where in the log it came from. */
export interface LogJob {
  queue: QueueName; jobId: string; name: string; data: Record<string, unknown>; position: number;
  /** Epoch ms before which the job does not run (a job handed over again later keeps its time). */
  runAt?: number;
}

/** Adds jobs to their queues (a job id a queue already holds is left as it is); answers how many went to each. */
export async function addLogJobs(queues: Map<QueueName, Queue>, jobs: LogJob[]): Promise<Map<QueueName, number>> {
  const byQueue = new Map<QueueName, LogJob[]>();
  for (const j of jobs) {
    const list = byQueue.get(j.queue);
    if (list) list.push(j); else byQueue.set(j.queue, [j]);
  }
  const now = Date.now();
  for (const [queue, list] of byQueue) {
    await queues.get(queue)!.addBulk(list.map((j) => ({ name: j.name, data: j.data, opts: { jobId: j.jobId, ...(j.runAt ? { delay: Math.max(0, j.runAt - now) } : {}) } })));
  }
  return new Map([...byQueue].map(([queue, list]) => [queue, list.length]));
}

/**
 * Settings the queues keep in Redis: made at start, and again when Redis has lost its data.
 * Backorders are filled one at a time across every worker process, so two never race for one
 * order; stale shipments are polled one run at a time.
 */
export async function prepareQueues(queues: Map<QueueName, Queue>, options: { trackingPollEveryMs?: number } = {}): Promise<void> {
  await queues.get(QUEUES.backorders)!.setGlobalConcurrency(1);
  // Carriers miss webhooks: stale shipments are polled on a schedule kept in Redis (made again after a loss).
  await queues.get(QUEUES.tracking)!.upsertJobScheduler('poll-stale-shipments', { every: options.trackingPollEveryMs ?? TRACKING_POLL_EVERY_MS }, { name: 'poll' });
  await queues.get(QUEUES.tracking)!.setGlobalConcurrency(1);
}

/** Removes every key of the queues under `prefix` (a test's or a benchmark's, once it is done with them). */
export async function deleteQueueKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** One Queue per name; connection errors (Redis restarting) go to `onError` rather than the console. */
export function createQueues(connection: Redis, prefix: string, onError?: (err: Error, queue: string) => void): Map<QueueName, Queue> {
  return new Map(Object.values(QUEUES).map((name) => {
    const queue = new Queue(name, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
    if (onError) queue.on('error', (err) => onError(err, name));
    return [name, queue];
  }));
}
