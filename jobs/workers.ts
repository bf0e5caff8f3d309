import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { scoreOrderFraud, type FraudScoringDeps } from './fraud-scoring.job.js';
import { QUEUES } from './queues.js';

export type WorkerDeps = FraudScoringDeps;

/** The one place processors are wired to queues. */
export function startWorkers(connection: Redis, prefix: string, concurrency: number, deps: WorkerDeps, log: Logger, metrics?: Metrics): Worker[] {
  const workers = [
    new Worker(QUEUES.fraudScoring, (job) => scoreOrderFraud(job, deps), { connection, prefix, concurrency }),
  ];
  for (const w of workers) {
    w.on('completed', () => metrics?.jobsFinished.inc({ queue: w.name, outcome: 'completed' }));
    w.on('failed', (job, err) => {
      metrics?.jobsFinished.inc({ queue: w.name, outcome: 'failed' });
      log.warn({ err, queue: w.name, jobId: job?.id, attempts: job?.attemptsMade }, 'job failed');
    });
    w.on('error', (err) => log.error({ err, queue: w.name }, 'worker error'));
  }
  return workers;
}
