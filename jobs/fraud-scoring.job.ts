import type { Job } from 'bullmq';
import type { FraudRules } from '../platform/config.js';
import { addressKey, paymentFingerprint, type VelocityCounts, type VelocityQuery } from '../read-side/orders.queries.js';
import { pollUntil } from '../read-side/positions.js';
import type { WriteSide } from '../write-side/commands.js';
import { isClosed } from '../write-side/orders/order.state.js';
import { scoreOrder } from './fraud-rules.js';
import { placedOrder } from './placed-order.js';

export interface FraudScoringDeps {
  write: WriteSide;
  /** Velocity counts once the orders read model has taken in the order, else null (see batchedVelocity). */
  velocity(q: VelocityQuery): Promise<VelocityCounts | null>;
  rules: FraudRules;
  now(): Date;
  /** How long a run waits for the orders read model to reach the order before it fails, to be retried (5 s). */
  readModelWaitMs?: number;
}

const READ_MODEL_WAIT_MS = 5_000;

/** Scores a placed order and records the result through the order's command handler. */
export async function scoreOrderFraud(job: Job<{ orderId: string; eventId: string; position?: number }>, deps: FraudScoringDeps): Promise<void> {
  const { orderId, eventId, position } = job.data;
  const order = await placedOrder(deps.write, orderId);
  if (order.fraud || isClosed(order)) return;
  const o = order.order;
  const query: VelocityQuery = {
    orderId, position: position ?? 0, customerId: o.customer.id, email: o.customer.email?.toLowerCase() ?? null,
    addressKey: addressKey(o), card: paymentFingerprint(o), at: o.placedAt,
  };
  // Velocity counts come from the orders read model: wait for it to take in the orders before this one.
  const signals = await pollUntil(() => deps.velocity(query), (counts) => counts !== null, deps.readModelWaitMs ?? READ_MODEL_WAIT_MS);
  if (!signals) throw new Error(`the orders read model has not reached order ${orderId} yet; retrying`);
  const assessment = scoreOrder(o, signals, deps.rules);
  await deps.write.recordFraudAssessment(orderId, assessment, {
    now: deps.now().toISOString(), correlationId: orderId, causationId: eventId, actor: { kind: 'job', id: `fraud-scoring/${job.id}` },
  });
}
