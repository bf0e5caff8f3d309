import type { Job } from 'bullmq';
import type { Knex } from 'knex';
import { backordersFor } from '../read-side/inventory.queries.js';
import { readModelPosition } from '../read-side/positions.js';
import type { CommandMetadata } from '../write-side/decider.js';
import type { Allocator } from '../write-side/sourcing/allocator.js';

// Sourcing as jobs: allocate a placed order, release a cancelled one, fill backorders as stock arrives.

export interface AllocationDeps { allocator: Allocator; knex: Knex; now(): Date }

type EventJob = Job<{ orderId: string; eventId: string; position: number }>;

const metadata = (job: Job<{ eventId: string }>, name: string, deps: AllocationDeps, correlationId: string): CommandMetadata => ({
  now: deps.now().toISOString(), correlationId, causationId: job.data.eventId, actor: { kind: 'job', id: `${name}/${job.id}` },
});

export async function allocateOrder(job: EventJob, deps: AllocationDeps): Promise<void> {
  const { orderId } = job.data;
  await deps.allocator.allocate(orderId, metadata(job, 'allocation', deps, orderId), { afterCrash: job.attemptsMade > 0 });
}

export async function releaseOrderStock(job: EventJob, deps: AllocationDeps): Promise<void> {
  const { orderId } = job.data;
  await deps.allocator.releaseOrder(orderId, metadata(job, 'stock-release', deps, orderId));
}

/**
 * Stock of a SKU became available: try its backordered orders in placement order. An order that
 * still cannot be filled whole keeps its place and the next one is tried. Runs one at a time.
 */
export async function fillBackorders(job: Job<{ sku: string; eventId: string; position: number }>, deps: AllocationDeps): Promise<void> {
  const { sku, position } = job.data;
  await readModelPosition(deps.knex, 'orders', position);         // see every order backordered before this stock
  for (const orderId of await backordersFor(deps.knex, sku)) {
    await deps.allocator.allocate(orderId, metadata(job, 'backorders', deps, orderId), { fromBackorder: true, afterCrash: job.attemptsMade > 0 });
  }
}
