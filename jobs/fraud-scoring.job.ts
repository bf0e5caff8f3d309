import { UnrecoverableError, type Job } from 'bullmq';
import type { Knex } from 'knex';
import type { FraudRules } from '../platform/config.js';
import { addressKey, velocity } from '../read-side/orders.queries.js';
import { readModelPosition } from '../read-side/positions.js';
import type { WriteSide } from '../write-side/commands.js';
import { scoreOrder } from './fraud-rules.js';

export interface FraudScoringDeps { write: WriteSide; knex: Knex; rules: FraudRules; now(): Date }

/** Scores a placed order and records the result through the order's command handler. */
export async function scoreOrderFraud(job: Job<{ orderId: string; eventId: string; position?: number }>, deps: FraudScoringDeps): Promise<void> {
  const { orderId, eventId, position } = job.data;
  const order = await deps.write.loadOrder(orderId);
  if (order.status === 'none') throw new UnrecoverableError(`order ${orderId} does not exist`);
  if (order.fraud || order.status === 'cancelled') return;
  const o = order.order;
  // Velocity counts come from the orders read model: let it take in the orders before this one.
  if (position !== undefined) await readModelPosition(deps.knex, 'orders', position);
  const signals = await velocity(deps.knex, {
    orderId, customerId: o.customer.id, email: o.customer.email?.toLowerCase() ?? null, addressKey: addressKey(o), at: o.placedAt,
  });
  const assessment = scoreOrder(o, signals, deps.rules);
  await deps.write.recordFraudAssessment(orderId, assessment, {
    now: deps.now().toISOString(), correlationId: orderId, causationId: eventId, actor: { kind: 'job', id: `fraud-scoring/${job.id}` },
  });
}
