import type { Job } from 'bullmq';
import { v7 as uuid } from 'uuid';
import { createWriteSide, type WriteSide } from '../../write-side/commands.js';
import { orderStream, type PlaceOrderData } from '../../write-side/orders/order.decider.js';
import { meta } from './given-when-then.js';
import { MemoryEventStore } from './memory-event-store.js';

/**
 * A job as BullMQ hands it to a processor: its id is the event's, its name the event type.
 * `attemptsMade` counts the runs that failed before; `attemptsStarted` the runs started, this one
 * included (one more than attemptsMade unless a run died without failing: a stalled job).
 */
export function aJob<D extends { eventId: string }>(name: string, data: D, attempts: { made?: number; started?: number } = {}): Job<D> {
  const attemptsMade = attempts.made ?? 0;
  return { id: data.eventId, name, data, attemptsMade, attemptsStarted: attempts.started ?? attemptsMade + 1 } as unknown as Job<D>;
}

/** The real write side on an in-memory event store, with what job tests do to orders. */
export function jobWorld() {
  const store = new MemoryEventStore();
  const write: WriteSide = createWriteSide(store);
  return {
    store,
    write,
    /** Places a card order of 2 x 2500 EUR, shipped. */
    async placeOrder(overrides: Partial<Omit<PlaceOrderData, 'orderId'>> = {}): Promise<string> {
      const placed = await write.placeOrder({
        channel: 'web', externalId: uuid(), currency: 'EUR', customer: { id: 'c-1', email: 'Ana@Example.com', name: 'Ana' },
        lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 2500 }],
        delivery: { method: 'ship', speed: 'standard', address: { line1: '1 Main St', city: 'Leipzig', postalCode: '04109', country: 'DE', geo: { lat: 51.3, lon: 12.4 } } },
        payment: { method: 'card', token: 'tok_ok' }, placedBy: 'test', ...overrides,
      }, meta());
      return placed.orderId;
    },
    /** The job data the dispatcher makes of the order's latest event of that type. */
    async eventOf(orderId: string, type: string): Promise<{ orderId: string; eventId: string; eventType: string; position: number }> {
      const e = (await store.readStream(orderStream(orderId))).filter((r) => r.type === type).at(-1);
      if (!e) throw new Error(`order ${orderId} has no ${type}`);
      return { orderId, eventId: e.id, eventType: e.type, position: e.position };
    },
    /** The types of the order's events, in order. */
    async eventTypes(orderId: string): Promise<string[]> {
      return (await store.readStream(orderStream(orderId))).map((e) => e.type);
    },
    async events(orderId: string) {
      return store.readStream(orderStream(orderId));
    },
  };
}
