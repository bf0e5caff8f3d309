import type { Job } from 'bullmq';
import type { Knex } from 'knex';
import { backordersFor } from '../read-side/inventory.queries.js';
import { readModelPosition } from '../read-side/positions.js';
import type { CommandMetadata } from '../write-side/decider.js';
import type { Allocator } from '../write-side/sourcing/allocator.js';

// Backorders are filled as a job when stock of their SKU becomes available; placed and cancelled
// orders are handled by the sourcing process (write-side/sourcing/sourcing.process.ts).

export interface BackorderDeps {
  allocator: Allocator;
  knex: Knex;
  now(): Date;
  /** How long a run waits for the orders read model to reach the stock's event before it fails, to be retried (5 s). */
  readModelWaitMs?: number;
}

const metadata = (job: Job<{ eventId: string }>, deps: BackorderDeps, orderId: string): CommandMetadata => ({
  now: deps.now().toISOString(), correlationId: orderId, causationId: job.data.eventId, actor: { kind: 'job', id: `backorders/${job.id}` },
});

/**
 * Stock of a SKU became available: try its backordered orders in placement order (an allocated
 * order whose given-back lines wait for stock has them re-allocated). An order that still cannot
 * be filled whole keeps its place and the next one is tried. With an order id (it was just
 * backordered), try that order once more: stock may have arrived while it was being backordered.
 * Runs one at a time across all workers.
 */
export async function fillBackorders(job: Job<{ sku?: string; orderId?: string; eventId: string; position: number; recovered?: boolean }>, deps: BackorderDeps): Promise<void> {
  const { sku, orderId, position } = job.data;
  // A re-run after a crash (or a stalled worker) may find reservations its first run left behind.
  const afterCrash = job.attemptsMade > 0 || job.attemptsStarted > 1 || job.data.recovered === true;
  if (orderId) {
    await deps.allocator.allocate(orderId, metadata(job, deps, orderId), { fromBackorder: true, afterCrash });
    return;
  }
  // See every order backordered before this stock arrived; if the read model is behind, try later.
  if ((await readModelPosition(deps.knex, 'orders', position, deps.readModelWaitMs)) < position) throw new Error('the orders read model is behind; retrying');
  for (const id of await backordersFor(deps.knex, sku!)) {
    await deps.allocator.allocate(id, metadata(job, deps, id), { fromBackorder: true, afterCrash });
  }
}
