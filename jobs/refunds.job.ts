import { UnrecoverableError, type Job } from 'bullmq';
import { PaymentDeclined, type PaymentGateway } from '../payments/payment-gateway.port.js';
import type { WriteSide } from '../write-side/commands.js';
import type { CommandMetadata } from '../write-side/decider.js';

// Refunding what a return's receipt brought back. The order first reserves the amount the receipt
// is owed (its units at their prices, capped by what was captured less what every other refund
// of the order has taken or reserved), so two receipts refunded at once never refund more than was
// paid. Then the gateway is asked under a key derived from the receipt: a retry, a worker killed
// mid-call or a lost answer asks again under the same key and is answered with the same refund.
// A refund the gateway refuses is recorded on the order and the return (RefundFailed) and the job
// fails for operators to see and retry; the retry asks under a new key, as the refused one is
// spent, and no money moved under it.

export interface RefundDeps { write: WriteSide; gateway: PaymentGateway; now(): Date; refundShipping: boolean }

export type RefundJob = Job<{ orderId: string; eventId: string; returnId: string; receiptId: string }>;

export async function refundReceipt(job: RefundJob, deps: RefundDeps): Promise<void> {
  const { orderId, returnId, receiptId } = job.data;
  const metadata = (): CommandMetadata => ({
    now: deps.now().toISOString(), correlationId: orderId, causationId: job.data.eventId, actor: { kind: 'job', id: `refunds/${job.id}` },
  });
  const r = await deps.write.loadReturn(returnId);
  if (r.status === 'none') throw new UnrecoverableError(`return ${returnId} does not exist`);
  const receipt = r.receipts.find((x) => x.receiptId === receiptId);
  if (!receipt) throw new UnrecoverableError(`return ${returnId} has no receipt ${receiptId}`);
  if (r.refunds.some((f) => f.receiptId === receiptId && f.settled)) return;

  const { state: order } = await deps.write.onOrderRefund({
    type: 'RequestRefund',
    data: { orderId, refundKey: receiptId, returnId, lines: receipt.lines.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })), refundShipping: deps.refundShipping },
    metadata: metadata(),
  });
  if (order.status === 'none') throw new UnrecoverableError(`order ${orderId} does not exist`);
  const owed = order.returns.refunds.find((x) => x.refundKey === receiptId)!;
  let refundId = owed.refundId;
  if (refundId === null && owed.amount > 0) {
    try {
      ({ refundId } = await deps.gateway.refund({
        authorizationId: order.payment.authorizationId!, amount: owed.amount, idempotencyKey: `refund:${receiptId}:${owed.failures}`,
      }));
    } catch (err) {
      if (!(err instanceof PaymentDeclined)) throw err;              // unavailable or lost: the same key again, with backoff
      await deps.write.onOrderRefund({ type: 'RecordRefundFailure', data: { orderId, refundKey: receiptId, attempt: owed.failures, code: err.code, detail: err.message }, metadata: metadata() });
      await deps.write.recordReturnRefundFailure({ returnId, receiptId, amount: owed.amount, code: err.code, detail: err.message, attempt: owed.failures }, metadata());
      throw new UnrecoverableError(`the gateway refused to refund ${owed.amount} for receipt ${receiptId} of return ${returnId}: ${err.code}: ${err.message}`);
    }
    await deps.write.recordPayment({ type: 'RecordPaymentRefund', data: { orderId, refundId, amount: owed.amount, refundKey: receiptId }, metadata: metadata() });
  }
  await deps.write.recordReturnRefund({ returnId, receiptId, amount: owed.amount, refundId }, metadata());
}
