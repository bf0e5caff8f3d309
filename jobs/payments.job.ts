import { UnrecoverableError, type Job } from 'bullmq';
import { PaymentDeclined, type PaymentGateway } from '../payments/payment-gateway.port.js';
import { placedOrder } from './placed-order.js';
import type { WriteSide } from '../write-side/commands.js';
import type { CommandMetadata } from '../write-side/decider.js';
import { isClosed, paymentToSettle, type PlacedState } from '../write-side/orders/order.state.js';
import { captureForShipment } from '../write-side/orders/payment-ledger.js';

// Payment jobs: each calls the gateway under an idempotency key derived from the order (never from
// the attempt), then records the answer on the order. A job killed between the two is retried:
// the gateway answers the same key with the same outcome, and the order records it once.

export interface PaymentDeps { write: WriteSide; gateway: PaymentGateway; now(): Date }

export type PaymentJob = Job<{ orderId: string; eventId: string; recovered?: boolean }>;

/** A payment job about one fulfilment of the order: it shipped, or was collected. */
export type ShipmentJob = Job<{ orderId: string; eventId: string; fulfilmentId: string }>;

const metadata = (job: PaymentJob, deps: PaymentDeps, kind: string): CommandMetadata => ({
  now: deps.now().toISOString(), correlationId: job.data.orderId, causationId: job.data.eventId, actor: { kind: 'job', id: `payments/${kind}/${job.id}` },
});

/** Authorises a card order's total on placement; a decline rejects the order. */
export async function authorizePayment(job: PaymentJob, deps: PaymentDeps): Promise<void> {
  // As last seen here is enough: the gateway answers a repeated key with the same authorisation,
  // and an authorisation recorded on an order that closed meanwhile is voided below.
  const o = await placedOrder(deps.write, job.data.orderId);
  const { payment } = o.order;
  if (payment.method !== 'card' || o.payment.authorizationId || o.payment.declined) return;
  // A closed order needs no authorisation, unless an earlier attempt may have reached the gateway
  // (it died, or the answer was lost): asking again with the same key finds out, and what is
  // found is recorded and voided.
  if (isClosed(o) && !mayHaveReachedGateway(job)) return;
  let recorded;
  try {
    const { authorizationId } = await deps.gateway.authorize({
      token: payment.token, amount: o.order.total, currency: o.order.currency, reference: o.order.orderId, idempotencyKey: `authorize:${o.order.orderId}`,
    });
    recorded = await deps.write.recordPayment({ type: 'RecordPaymentAuthorization', data: { orderId: o.order.orderId, authorizationId, amount: o.order.total }, metadata: metadata(job, deps, 'authorize') });
  } catch (err) {
    if (!(err instanceof PaymentDeclined)) throw err;                // transient: BullMQ retries with backoff
    await deps.write.recordPayment({ type: 'RecordPaymentDecline', data: { orderId: o.order.orderId, code: err.code, detail: err.message }, metadata: metadata(job, deps, 'authorize') });
    return;
  }
  // Cancelled or rejected while the gateway was answering: give the money back now.
  if (recorded.state.status !== 'none' && isClosed(recorded.state)) await settle(recorded.state, job, deps);
}

/** A cancelled or rejected order: voids what is only authorised, refunds what was captured. */
export async function settlePayment(job: PaymentJob, deps: PaymentDeps): Promise<void> {
  await settle(await placedOrder(deps.write, job.data.orderId, { fresh: true }), job, deps);
}

async function settle(order: PlacedState, job: PaymentJob, deps: PaymentDeps): Promise<void> {
  let o = order;
  const orderId = o.order.orderId;
  const authorizationId = paymentToSettle(o).void;
  if (authorizationId) {
    try {
      await deps.gateway.void({ authorizationId, idempotencyKey: `void:${orderId}` });
      await deps.write.recordPayment({ type: 'RecordPaymentVoid', data: { orderId, authorizationId }, metadata: metadata(job, deps, 'void') });
    } catch (err) {
      if (!(err instanceof PaymentDeclined && err.code === 'already_captured')) throw err;
      // A capture reached the gateway but was never recorded (its job died): learn it under its
      // own key, record it, and refund it below.
      o = await recordCapture(o, job, deps);
    }
  }
  const owed = paymentToSettle(o);
  if (owed.refund > 0) {
    // One refund settles a closed order: its key is the order's, so a retry never refunds twice.
    const { refundId } = await deps.gateway.refund({ authorizationId: o.payment.authorizationId!, amount: owed.refund, idempotencyKey: `refund:${orderId}:closed` });
    await deps.write.recordPayment({ type: 'RecordPaymentRefund', data: { orderId, refundId, amount: owed.refund }, metadata: metadata(job, deps, 'refund') });
  }
}

/** Captures a released order's authorisation in full (the `on_release` capture policy). */
export async function capturePayment(job: PaymentJob, deps: PaymentDeps): Promise<void> {
  const o = await placedOrder(deps.write, job.data.orderId, { fresh: true });
  if (!o.payment.authorizationId || o.payment.voided || o.payment.captured > 0) return;
  if (isClosed(o) && !mayHaveReachedGateway(job)) return;
  const recorded = await recordCapture(o, job, deps);
  if (isClosed(recorded)) await settle(recorded, job, deps);
}

/**
 * Captures what a fulfilment that shipped or was collected carries (the `on_shipment` capture
 * policy), under a key of its own: each shipment its share, the last one the rest. The amount
 * follows from the order's handovers alone, so a retry asks for the same one under the same key.
 */
export async function captureShipment(job: ShipmentJob, deps: PaymentDeps): Promise<void> {
  const { orderId, fulfilmentId } = job.data;
  if (!fulfilmentId) throw new UnrecoverableError(`capture job ${job.id} names no fulfilment`);
  const o = await placedOrder(deps.write, orderId, { fresh: true });
  if (isClosed(o) && !mayHaveReachedGateway(job)) return;
  const amount = captureForShipment(o, fulfilmentId);
  if (amount === 0) return;
  const { captureId } = await deps.gateway.capture({ authorizationId: o.payment.authorizationId!, amount, idempotencyKey: `capture:${orderId}:${fulfilmentId}` });
  const recorded = await deps.write.recordPayment({ type: 'RecordPaymentCapture', data: { orderId, captureId, amount, fulfilmentId }, metadata: metadata(job, deps, 'capture') });
  if (recorded.state.status !== 'none' && isClosed(recorded.state)) await settle(recorded.state, job, deps);
}

/** The release capture, asked for (or asked again: the key is the order's) and recorded. */
async function recordCapture(o: PlacedState, job: PaymentJob, deps: PaymentDeps): Promise<PlacedState> {
  const amount = o.payment.authorized;
  const { captureId } = await deps.gateway.capture({ authorizationId: o.payment.authorizationId!, amount, idempotencyKey: `capture:${o.order.orderId}:release` });
  const recorded = await deps.write.recordPayment({ type: 'RecordPaymentCapture', data: { orderId: o.order.orderId, captureId, amount }, metadata: metadata(job, deps, 'capture') });
  return recorded.state as PlacedState;
}

/** Whether an earlier run of this job may have called the gateway: it failed, or it died (stalled). */
const mayHaveReachedGateway = (job: PaymentJob): boolean => job.attemptsMade > 0 || (job.attemptsStarted ?? 0) > 1 || job.data.recovered === true;
