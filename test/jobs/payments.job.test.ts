import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { jobRoutes } from '../../jobs/dispatcher.js';
import { authorizePayment, capturePayment, captureShipment, settlePayment, type PaymentDeps } from '../../jobs/payments.job.js';
import { QUEUES } from '../../jobs/queues.js';
import { orderStream } from '../../write-side/orders/order.decider.js';
import type { SkuQuantity } from '../../write-side/orders/order.events.js';
import type { Recorded } from '../../write-side/to-domain.js';
import {
  GatewayUnavailable, PaymentDeclined, type AuthorizeRequest, type CaptureRequest, type PaymentGateway, type RefundRequest, type VoidRequest,
} from '../../payments/payment-gateway.port.js';
import { meta, NOW } from '../support/given-when-then.js';
import { aJob, jobWorld } from '../support/job-world.js';
import { failure } from '../support/failure.js';

type Operation = 'authorize' | 'capture' | 'void' | 'refund';
type Request = AuthorizeRequest | CaptureRequest | VoidRequest | RefundRequest;
/** What the next call of an operation does: fail before reaching the gateway, or reach it, then something. */
type Step = { fail: Error } | { lose: true } | { meanwhile: () => Promise<unknown> };

/**
 * A gateway that records every call and, like a real one, answers a key it has seen with its
 * first answer; it refuses to void a captured authorisation. `next` scripts a call.
 */
class FakeGateway implements PaymentGateway {
  readonly calls: ({ operation: Operation } & Request)[] = [];
  private readonly answers = new Map<string, unknown>();
  private readonly captured = new Set<string>();
  private readonly steps = new Map<Operation, Step[]>();

  next(operation: Operation, step: Step): this {
    this.steps.set(operation, [...(this.steps.get(operation) ?? []), step]);
    return this;
  }

  keys(operation?: Operation): string[] {
    return this.calls.filter((c) => !operation || c.operation === operation).map((c) => c.idempotencyKey);
  }

  authorize(r: AuthorizeRequest) { return this.call('authorize', r, () => ({ authorizationId: `auth-${this.answers.size}` })); }

  capture(r: CaptureRequest) {
    return this.call('capture', r, () => {
      this.captured.add(r.authorizationId);
      return { captureId: `cap-${this.answers.size}` };
    });
  }

  void(r: VoidRequest) {
    return this.call('void', r, () => {
      if (this.captured.has(r.authorizationId)) throw new PaymentDeclined('already_captured', 'Captured money is refunded, not voided');
    });
  }

  refund(r: RefundRequest) { return this.call('refund', r, () => ({ refundId: `ref-${this.answers.size}` })); }

  private async call<T>(operation: Operation, r: Request, answer: () => T): Promise<T> {
    this.calls.push({ operation, ...r });
    const step = this.steps.get(operation)?.shift();
    if (step && 'fail' in step) throw step.fail;
    if (!this.answers.has(r.idempotencyKey)) {
      try {
        this.answers.set(r.idempotencyKey, { value: answer() });
      } catch (err) {
        this.answers.set(r.idempotencyKey, { error: err });
      }
    }
    if (step && 'meanwhile' in step) await step.meanwhile();
    if (step && 'lose' in step) throw new GatewayUnavailable('the answer was lost');
    const first = this.answers.get(r.idempotencyKey) as { value?: T; error?: unknown };
    if ('error' in first) throw first.error;
    return first.value as T;
  }
}

describe('payment jobs', () => {
  let world: ReturnType<typeof jobWorld>;
  let gateway: FakeGateway;
  let deps: PaymentDeps;
  beforeEach(() => {
    world = jobWorld();
    gateway = new FakeGateway();
    deps = { write: world.write, gateway, now: () => new Date('2026-11-26T11:00:00.000Z') };
  });

  const placedJob = async (orderId: string, attempts: { made?: number; started?: number } = {}) => aJob('OrderPlaced', await world.eventOf(orderId, 'OrderPlaced'), attempts);
  const payment = async (orderId: string) => {
    const o = await world.write.loadOrder(orderId, { fresh: true });
    if (o.status === 'none') throw new Error('no order');
    return o.payment;
  };
  /** Approved and allocated: with its authorisation recorded, it is released. */
  const approveAndAllocate = async (orderId: string) => {
    await world.write.recordFraudAssessment(orderId, { score: 0, decision: 'approve', reasons: [] }, meta());
    await world.write.recordAllocation({ orderId, allocations: [{ locationId: 'wh-1', lines: [{ sku: 'SKU-1', quantity: 2 }] }], transfers: [], cost: 1, why: 'test', candidates: [] }, meta());
  };

  describe('authorising a placed card order', () => {
    it('asks for the order total under the order\'s key and records the authorisation, with the job as the actor', async () => {
      const orderId = await world.placeOrder();
      const job = await placedJob(orderId);
      await authorizePayment(job, deps);
      expect(gateway.calls).to.deep.equal([{ operation: 'authorize', token: 'tok_ok', amount: 5000, currency: 'EUR', reference: orderId, idempotencyKey: `authorize:${orderId}` }]);
      const [authorized] = (await world.events(orderId)).filter((e) => e.type === 'PaymentAuthorized');
      expect(authorized.data).to.include({ authorizationId: 'auth-0', amount: 5000, at: '2026-11-26T11:00:00.000Z' });
      expect(authorized.metadata).to.include({ correlationId: orderId, causationId: job.data.eventId });
      expect(authorized.metadata.actor).to.deep.equal({ kind: 'job', id: `payments/authorize/${job.id}` });
    });

    it('does nothing for an order already authorised, or not paid by card', async () => {
      const orderId = await world.placeOrder();
      await authorizePayment(await placedJob(orderId), deps);
      await authorizePayment(await placedJob(orderId), deps);
      const cash = await world.placeOrder({ payment: { method: 'cash_on_delivery' } });
      await authorizePayment(await placedJob(cash), deps);
      expect(gateway.keys()).to.deep.equal([`authorize:${orderId}`]);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced', 'PaymentAuthorized']);
      expect(await world.eventTypes(cash)).to.deep.equal(['OrderPlaced']);
    });

    it('records a decline, which rejects the order, and does not fail the job', async () => {
      const orderId = await world.placeOrder();
      gateway.next('authorize', { fail: new PaymentDeclined('card_declined', 'The card was declined') });
      await authorizePayment(await placedJob(orderId), deps);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced', 'PaymentDeclined', 'OrderRejected']);
      expect((await payment(orderId)).declined).to.deep.equal({ code: 'card_declined', detail: 'The card was declined' });
    });

    it('rethrows a transient failure for BullMQ to retry, having recorded nothing; the retry authorises', async () => {
      const orderId = await world.placeOrder();
      gateway.next('authorize', { fail: new GatewayUnavailable('try again') });
      expect(await failure(authorizePayment(await placedJob(orderId), deps))).to.be.instanceOf(GatewayUnavailable);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced']);
      await authorizePayment(await placedJob(orderId, { made: 1 }), deps);
      expect(gateway.keys()).to.deep.equal([`authorize:${orderId}`, `authorize:${orderId}`]);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced', 'PaymentAuthorized']);
    });

    it('asks again under the same key when the answer was lost, and records the one authorisation once', async () => {
      const orderId = await world.placeOrder();
      gateway.next('authorize', { lose: true });
      expect(await failure(authorizePayment(await placedJob(orderId), deps))).to.be.instanceOf(GatewayUnavailable);
      await authorizePayment(await placedJob(orderId, { made: 1 }), deps);
      await authorizePayment(await placedJob(orderId, { made: 1, started: 3 }), deps);          // and a stalled run of it
      expect(gateway.keys()).to.deep.equal([`authorize:${orderId}`, `authorize:${orderId}`]);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced', 'PaymentAuthorized']);
      expect((await payment(orderId)).authorizationId).to.equal('auth-0');
    });

    it('voids what it authorised when the order was cancelled while the gateway answered', async () => {
      const orderId = await world.placeOrder();
      gateway.next('authorize', { meanwhile: () => world.write.cancelOrder(orderId, 'changed my mind', meta()) });
      await authorizePayment(await placedJob(orderId), deps);
      expect(gateway.calls.map((c) => [c.operation, c.idempotencyKey])).to.deep.equal([['authorize', `authorize:${orderId}`], ['void', `void:${orderId}`]]);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced', 'OrderCancelled', 'PaymentAuthorized', 'PaymentVoided']);
    });

    it('leaves a closed order alone on a first run, but finds, records and voids what an earlier run may have authorised', async () => {
      const untouched = await world.placeOrder();
      await world.write.cancelOrder(untouched, 'changed my mind', meta());
      await authorizePayment(await placedJob(untouched), deps);
      expect(gateway.calls).to.deep.equal([]);

      const orderId = await world.placeOrder();
      gateway.next('authorize', { lose: true });
      await failure(authorizePayment(await placedJob(orderId), deps));
      await world.write.cancelOrder(orderId, 'changed my mind', meta());
      await authorizePayment(await placedJob(orderId, { made: 1 }), deps);
      expect(gateway.keys()).to.deep.equal([`authorize:${orderId}`, `authorize:${orderId}`, `void:${orderId}`]);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced', 'OrderCancelled', 'PaymentAuthorized', 'PaymentVoided']);
    });
  });

  describe('settling a closed order', () => {
    const authorized = async () => {
      const orderId = await world.placeOrder();
      await authorizePayment(await placedJob(orderId), deps);
      return orderId;
    };
    const cancelled = async (orderId: string) => {
      await world.write.cancelOrder(orderId, 'changed my mind', meta());
      return aJob('OrderCancelled', await world.eventOf(orderId, 'OrderCancelled'));
    };

    it('voids an authorisation nothing was captured of, once', async () => {
      const orderId = await authorized();
      const job = await cancelled(orderId);
      await settlePayment(job, deps);
      await settlePayment(job, deps);
      expect(gateway.keys('void')).to.deep.equal([`void:${orderId}`]);
      expect(gateway.keys('refund')).to.deep.equal([]);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced', 'PaymentAuthorized', 'OrderCancelled', 'PaymentVoided']);
    });

    it('refunds what was captured, once, under the order\'s key', async () => {
      const orderId = await authorized();
      await approveAndAllocate(orderId);
      await capturePayment(aJob('OrderReleased', await world.eventOf(orderId, 'OrderReleased')), deps);
      const job = await cancelled(orderId);
      await settlePayment(job, deps);
      await settlePayment(job, deps);
      expect(gateway.calls.filter((c) => c.operation === 'refund')).to.deep.equal([
        { operation: 'refund', authorizationId: 'auth-0', amount: 5000, idempotencyKey: `refund:${orderId}:closed` },
      ]);
      expect(gateway.keys('void')).to.deep.equal([]);
      expect(await payment(orderId)).to.include({ captured: 5000, refunded: 5000, voided: false });
    });

    it('learns of a capture that reached the gateway but was never recorded, records it and refunds it', async () => {
      const orderId = await authorized();
      await approveAndAllocate(orderId);
      // A capture job that died after the gateway captured: the order does not know.
      const { captureId } = await gateway.capture({ authorizationId: 'auth-0', amount: 5000, idempotencyKey: `capture:${orderId}:release` });
      await settlePayment(await cancelled(orderId), deps);
      expect(gateway.keys()).to.deep.equal([`authorize:${orderId}`, `capture:${orderId}:release`, `void:${orderId}`, `capture:${orderId}:release`, `refund:${orderId}:closed`]);
      const [recorded] = (await world.events(orderId)).filter((e) => e.type === 'PaymentCaptured');
      expect(recorded.data).to.include({ captureId, amount: 5000 });
      expect((await world.eventTypes(orderId)).slice(-3)).to.deep.equal(['OrderCancelled', 'PaymentCaptured', 'PaymentRefunded']);
      expect(await payment(orderId)).to.include({ captured: 5000, refunded: 5000, voided: false });
    });
  });

  describe('capturing a released order (on_release)', () => {
    it('captures the authorised amount under the order\'s key, once', async () => {
      const orderId = await world.placeOrder();
      await authorizePayment(await placedJob(orderId), deps);
      await approveAndAllocate(orderId);
      const job = aJob('OrderReleased', await world.eventOf(orderId, 'OrderReleased'));
      await capturePayment(job, deps);
      await capturePayment(job, deps);
      expect(gateway.calls.filter((c) => c.operation === 'capture')).to.deep.equal([
        { operation: 'capture', authorizationId: 'auth-0', amount: 5000, idempotencyKey: `capture:${orderId}:release` },
      ]);
      expect(await world.eventTypes(orderId)).to.deep.equal(['OrderPlaced', 'PaymentAuthorized', 'FraudAssessed', 'OrderAllocated', 'OrderReleased', 'PaymentCaptured']);
    });
  });

  describe('capturing what ships or is collected (on_shipment)', () => {
    const SKU1 = [{ sku: 'SKU-1', quantity: 2 }];
    const SKU2 = [{ sku: 'SKU-2', quantity: 1 }];
    /** A released card order of 2 x SKU-1 at 2500 and 1 x SKU-2 at 1000, 6000 in all, allocated at two warehouses. */
    const released = async (overrides: Parameters<typeof world.placeOrder>[0] = {}) => {
      const orderId = await world.placeOrder({ lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 2500 }, { sku: 'SKU-2', quantity: 1, unitPrice: 1000 }], ...overrides });
      await authorizePayment(await placedJob(orderId), deps);
      await world.write.recordFraudAssessment(orderId, { score: 0, decision: 'approve', reasons: [] }, meta());
      await world.write.recordAllocation({
        orderId, allocations: [{ locationId: 'wh-1', lines: SKU1 }, { locationId: 'wh-2', lines: SKU2 }], transfers: [], cost: 1, why: 'test', candidates: [],
      }, meta());
      return orderId;
    };
    const jobFor = async (orderId: string, type: 'OrderFulfilmentShipped' | 'OrderCollected', fulfilmentId: string, attempts: { made?: number } = {}) =>
      aJob(type, { ...(await world.eventOf(orderId, type)), fulfilmentId }, attempts);
    /** Records the fulfilment shipped and answers the capture job its event starts. */
    const ship = async (orderId: string, fulfilmentId: string, locationId: string, lines: SkuQuantity[]) => {
      await world.write.recordOrderFulfilment({ type: 'RecordFulfilmentShipped', data: { orderId, fulfilmentId, locationId, lines }, metadata: meta() });
      return jobFor(orderId, 'OrderFulfilmentShipped', fulfilmentId);
    };
    const captures = () => gateway.calls.filter((c) => c.operation === 'capture').map((c) => [c.idempotencyKey, (c as { amount: number }).amount]);

    it('captures each shipment\'s share under its own key as it ships, the last one the rest, adding up to the total', async () => {
      const orderId = await released();
      const first = await ship(orderId, 'f-1', 'wh-1', SKU1);
      await captureShipment(first, deps);
      expect(await payment(orderId)).to.include({ captured: 5000 });
      const second = await ship(orderId, 'f-2', 'wh-2', SKU2);
      await captureShipment(second, deps);
      await captureShipment(first, deps);
      await captureShipment(second, deps);
      expect(captures()).to.deep.equal([[`capture:${orderId}:f-1`, 5000], [`capture:${orderId}:f-2`, 1000]]);
      const recorded = (await world.events(orderId)).filter((e) => e.type === 'PaymentCaptured').map((e) => e.data);
      expect(recorded.map((d) => (d as { fulfilmentId: string }).fulfilmentId)).to.deep.equal(['f-1', 'f-2']);
      expect(await payment(orderId)).to.include({ authorized: 6000, captured: 6000 });
    });

    it('captures the same amounts when the last shipment\'s job runs first', async () => {
      const orderId = await released();
      const first = await ship(orderId, 'f-1', 'wh-1', SKU1);
      const second = await ship(orderId, 'f-2', 'wh-2', SKU2);
      await captureShipment(second, deps);
      await captureShipment(first, deps);
      expect(captures()).to.deep.equal([[`capture:${orderId}:f-2`, 1000], [`capture:${orderId}:f-1`, 5000]]);
      expect(await payment(orderId)).to.include({ captured: 6000 });
    });

    it('asks again under the same key for the same amount when the answer was lost, and records the capture once', async () => {
      const orderId = await released();
      const first = await ship(orderId, 'f-1', 'wh-1', SKU1);
      gateway.next('capture', { lose: true });
      expect(await failure(captureShipment(first, deps))).to.be.instanceOf(GatewayUnavailable);
      await captureShipment(await ship(orderId, 'f-2', 'wh-2', SKU2), deps);
      await captureShipment(await jobFor(orderId, 'OrderFulfilmentShipped', 'f-1', { made: 1 }), deps);
      expect(captures()).to.deep.equal([[`capture:${orderId}:f-1`, 5000], [`capture:${orderId}:f-2`, 1000], [`capture:${orderId}:f-1`, 5000]]);
      expect((await world.eventTypes(orderId)).filter((t) => t === 'PaymentCaptured')).to.have.length(2);
      expect(await payment(orderId)).to.include({ captured: 6000 });
    });

    it('captures a pickup order in full when it is collected', async () => {
      await world.write.registerLocation({ locationId: 'store-1', name: 'Store 1', type: 'store', geo: { lat: 51.3, lon: 12.4 }, canShip: false, canPickup: true }, meta());
      const orderId = await released({ delivery: { method: 'pickup', locationId: 'store-1' } });
      await world.write.recordOrderFulfilment({
        type: 'RecordReadyForPickup', data: { orderId, fulfilmentId: 'f-s', locationId: 'store-1', code: '4815', readyAt: NOW, expiresAt: NOW }, metadata: meta(),
      });
      await world.write.recordOrderFulfilment({ type: 'RecordCollection', data: { orderId, fulfilmentId: 'f-s', lines: [...SKU1, ...SKU2] }, metadata: meta() });
      await captureShipment(await jobFor(orderId, 'OrderCollected', 'f-s'), deps);
      expect(captures()).to.deep.equal([[`capture:${orderId}:f-s`, 6000]]);
      expect(await payment(orderId)).to.include({ captured: 6000 });
    });

    it('captures nothing for an order not paid by card, or one captured whole on release', async () => {
      const cash = await released({ payment: { method: 'cash_on_delivery' } });
      await captureShipment(await ship(cash, 'f-1', 'wh-1', SKU1), deps);
      const onRelease = await released();
      await capturePayment(aJob('OrderReleased', await world.eventOf(onRelease, 'OrderReleased')), deps);
      await captureShipment(await ship(onRelease, 'f-1', 'wh-1', SKU1), deps);
      expect(captures()).to.deep.equal([[`capture:${onRelease}:release`, 6000]]);
      expect(await world.eventTypes(cash)).to.not.include('PaymentCaptured');
    });

    it('leaves alone a shipment recorded after the order was cancelled, whose authorisation settling voids', async () => {
      const orderId = await released();
      await world.write.cancelOrder(orderId, 'changed my mind', meta());
      await captureShipment(await ship(orderId, 'f-1', 'wh-1', SKU1), deps);
      await settlePayment(aJob('OrderCancelled', await world.eventOf(orderId, 'OrderCancelled')), deps);
      expect(gateway.calls.map((c) => [c.operation, c.idempotencyKey])).to.deep.equal([['authorize', `authorize:${orderId}`], ['void', `void:${orderId}`]]);
    });

    it('refunds what the shipments captured, and voids nothing, when an order closes after part of it shipped', async () => {
      const orderId = await released();
      await captureShipment(await ship(orderId, 'f-1', 'wh-1', SKU1), deps);
      // CancelOrder refuses this now; an order closed before that rule may still be in the log.
      await world.store.append(orderStream(orderId), [{ id: randomUUID(), type: 'OrderCancelled', data: { orderId, reason: 'closed before the rule', at: NOW }, metadata: {} }], 'any');
      await settlePayment(aJob('OrderCancelled', await world.eventOf(orderId, 'OrderCancelled')), deps);
      expect(gateway.calls.filter((c) => c.operation === 'refund')).to.deep.equal([
        { operation: 'refund', authorizationId: 'auth-0', amount: 5000, idempotencyKey: `refund:${orderId}:closed` },
      ]);
      expect(gateway.keys('void')).to.deep.equal([]);
      expect(await payment(orderId)).to.include({ authorized: 6000, captured: 5000, refunded: 5000 });
    });

    it('is routed from shipments and collections, naming the fulfilment, unless capturing on release', () => {
      const shipped = { id: 'e-1', type: 'OrderFulfilmentShipped', data: { orderId: 'o-1', fulfilmentId: 'f-1' }, position: 7 } as unknown as Recorded;
      const onShipment = jobRoutes().filter((r) => r.queue === QUEUES.payments).map((r) => r.eventType);
      expect(onShipment).to.include.members(['OrderFulfilmentShipped', 'OrderCollected']).and.not.include('OrderReleased');
      expect(jobRoutes().find((r) => r.eventType === 'OrderFulfilmentShipped')!.data(shipped)).to.deep.include({ orderId: 'o-1', fulfilmentId: 'f-1', eventId: 'e-1' });
      const onRelease = jobRoutes({ captureOnRelease: true }).filter((r) => r.queue === QUEUES.payments).map((r) => r.eventType);
      expect(onRelease).to.include('OrderReleased');
      expect(onRelease).to.not.include('OrderFulfilmentShipped').and.not.include('OrderCollected');
    });
  });
});
