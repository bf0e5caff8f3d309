import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

export const QUEUES = { fraudScoring: 'fraud-scoring', backorders: 'backorders', payments: 'payments', notifications: 'notifications' } as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Retries with backoff; completed jobs are kept long enough to refuse a replayed enqueue of the same id. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 24 * 3600, count: 200_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** One Queue per name; connection errors (Redis restarting) go to `onError` rather than the console. */
export function createQueues(connection: Redis, prefix: string, onError?: (err: Error, queue: string) => void): Map<QueueName, Queue> {
  return new Map(Object.values(QUEUES).map((name) => {
    const queue = new Queue(name, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
    if (onError) queue.on('error', (err) => onError(err, name));
    return [name, queue];
  }));
}
