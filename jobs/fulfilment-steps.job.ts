import { UnrecoverableError, type Job } from 'bullmq';
import type { EventStore } from '../event-store/event-store.port.js';
import { AppError, ConcurrencyError } from '../platform/errors.js';
import { toDomain, type Recorded } from '../write-side/to-domain.js';
import { QUEUES, type LogJob } from './queues.js';

// A step of the fulfilment process that a rule refused (a shipment the ledger will not take off,
// say) would be refused again on every retry, and the process goes on with the log without it.
// It is kept in failed_jobs as a job of this queue, so operators see it among the failed jobs,
// and their retry runs the step again here, from its event in the log.

export interface FulfilmentStepDeps {
  store: EventStore;
  /** The fulfilment process's reaction to one event; throws what it meets, refusals included. */
  step(event: Recorded): Promise<void>;
}

export type FulfilmentStepJob = Job<{ eventId: string; position: number; orderId?: string; fulfilmentId?: string; eventType?: string }>;

/** The job a refused step is kept as: named after its event, with its id and place in the log. */
export function refusedStep(e: Recorded): LogJob {
  const { orderId, fulfilmentId } = e.data as { orderId?: string; fulfilmentId?: string };
  return {
    queue: QUEUES.fulfilmentSteps, jobId: e.id, name: e.type, position: e.position,
    data: { eventId: e.id, eventType: e.type, position: e.position, ...(orderId ? { orderId } : {}), ...(fulfilmentId ? { fulfilmentId } : {}) },
  };
}

/** Runs a refused step again; refused again, it fails for good with the rule's code and message. */
export async function retryFulfilmentStep(job: FulfilmentStepJob, deps: FulfilmentStepDeps): Promise<void> {
  const { eventId, position } = job.data;
  const [e] = await deps.store.readAll({ after: position - 1, maxCount: 1 });
  if (!e || e.id !== eventId) throw new UnrecoverableError(`event ${eventId} is not at position ${position} of the log`);
  try {
    await deps.step(toDomain(e));
  } catch (err) {
    if (err instanceof AppError && !(err instanceof ConcurrencyError)) throw new UnrecoverableError(`${e.type} refused again: ${err.code}: ${err.message}`);
    throw err;
  }
}
