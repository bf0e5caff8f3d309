import { UnrecoverableError, Worker, type Queue, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { fillBackorders, type BackorderDeps } from './backorders.job.js';
import { scoreOrderFraud, type FraudScoringDeps } from './fraud-scoring.job.js';
import { notifyCustomer, type NotificationDeps } from './notifications.job.js';
import { authorizePayment, capturePayment, captureShipment, settlePayment, type PaymentDeps, type PaymentJob, type ShipmentJob } from './payments.job.js';
import { prepareQueues, QUEUES, type QueueName } from './queues.js';
import { labelJob, type LabelDeps, type LabelJob } from './labels.job.js';
import { buyReturnLabel, type ReturnLabelDeps, type ReturnLabelJob } from './return-labels.job.js';
import { expirePickup, type PickupExpiryDeps } from './pickup-expiry.job.js';
import { pollTracking, type TrackingPollDeps } from './tracking-poll.job.js';
import { refundReceipt, type RefundDeps } from './refunds.job.js';
import { retryFulfilmentStep, type FulfilmentStepDeps } from './fulfilment-steps.job.js';

export type WorkerDeps = FraudScoringDeps & BackorderDeps & PaymentDeps & NotificationDeps & PickupExpiryDeps
  & { labels: LabelDeps; returnLabels: ReturnLabelDeps; tracking: TrackingPollDeps; refunds: RefundDeps; fulfilmentSteps: FulfilmentStepDeps };

/** Payment jobs are named after the event that started them. */
function paymentJob(job: PaymentJob, deps: PaymentDeps): Promise<void> {
  switch (job.name) {
    case 'OrderPlaced': return authorizePayment(job, deps);
    case 'OrderReleased': return capturePayment(job, deps);
    case 'OrderFulfilmentShipped':
    case 'OrderCollected': return captureShipment(job as ShipmentJob, deps);
    case 'OrderCancelled':
    case 'OrderRejected': return settlePayment(job, deps);
    default: throw new UnrecoverableError(`no payment job for ${job.name}`);
  }
}

/** The labels queue holds the fulfilments' label jobs and the returns' (named after a return's opening). */
function labelsQueueJob(job: LabelJob | ReturnLabelJob, deps: WorkerDeps): Promise<void> {
  return job.name === 'ReturnOpened' ? buyReturnLabel(job as ReturnLabelJob, deps.returnLabels) : labelJob(job as LabelJob, deps.labels);
}

/** The one place processors are wired to queues. */
export async function startWorkers(connection: Redis, prefix: string, concurrency: number, queues: Map<QueueName, Queue>,
  deps: WorkerDeps, log: Logger, metrics?: Metrics, settings: Pick<WorkerOptions, 'lockDuration' | 'stalledInterval'> & { trackingPollEveryMs?: number } = {}): Promise<Worker[]> {
  const { trackingPollEveryMs, ...options } = settings;
  await prepareQueues(queues, { trackingPollEveryMs });
  const workers = [
    new Worker(QUEUES.fraudScoring, (job) => scoreOrderFraud(job, deps), { ...options, connection, prefix, concurrency }),
    new Worker(QUEUES.payments, (job) => paymentJob(job, deps), { ...options, connection, prefix, concurrency }),
    new Worker(QUEUES.notifications, (job) => notifyCustomer(job, deps), { ...options, connection, prefix, concurrency }),
    new Worker(QUEUES.backorders, (job) => fillBackorders(job, deps), { ...options, connection, prefix, concurrency: 1 }),
    new Worker(QUEUES.labels, (job) => labelsQueueJob(job, deps), { ...options, connection, prefix, concurrency }),
    new Worker(QUEUES.tracking, (job) => pollTracking(job, deps.tracking), { ...options, connection, prefix, concurrency: 1 }),
    new Worker(QUEUES.pickups, (job, token) => expirePickup(job, deps, token), { ...options, connection, prefix, concurrency }),
    new Worker(QUEUES.refunds, (job) => refundReceipt(job, deps.refunds), { ...options, connection, prefix, concurrency }),
    new Worker(QUEUES.fulfilmentSteps, (job) => retryFulfilmentStep(job, deps.fulfilmentSteps), { ...options, connection, prefix, concurrency: 1 }),
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
