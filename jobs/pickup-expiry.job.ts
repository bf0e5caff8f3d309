import { DelayedError, type Job } from 'bullmq';
import type { WriteSide } from '../write-side/commands.js';

export interface PickupExpiryDeps { write: WriteSide; now(): Date }

/**
 * A pickup not collected by its expiry: scheduled as a delayed job when the order is ready at the
 * counter (a job, not a timer in memory, so a restart or a lost Redis keeps it: a job handed to
 * Redis again early waits again). Collected, cancelled or already expired: nothing to do.
 */
export async function expirePickup(job: Job<{ fulfilmentId: string; orderId: string; eventId: string; expiresAt: string }>, deps: PickupExpiryDeps, token?: string): Promise<void> {
  const { fulfilmentId, expiresAt } = job.data;
  const due = Date.parse(expiresAt);
  if (deps.now().getTime() < due) {
    await job.moveToDelayed(due, token);
    throw new DelayedError();
  }
  const f = await deps.write.loadFulfilment(fulfilmentId);
  if (f.status !== 'ready_for_pickup') return;
  await deps.write.expirePickup(fulfilmentId, {
    now: deps.now().toISOString(), correlationId: job.data.orderId, causationId: job.data.eventId, actor: { kind: 'job', id: `pickups/${job.id}` },
  });
}
