import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { anOrderBody, eventually, KEYS, type Call } from './service-harness.js';
import { uniqueName } from './test-env.js';

// An order's journey driven through the API as operators and carriers drive it: stock received,
// an order placed, its fulfilments found in the work queues, picked and packed (the label job
// does the rest), and signed tracking webhooks. For any service answering `call`.

export const HAMBURG_ADDRESS = { line1: '1 Main St', city: 'Hamburg', postalCode: '20095', country: 'DE', geo: { lat: 53.55, lon: 10.0 } };

/** One parcel carrying every line. */
export const parcelOf = (lines: { sku: string; quantity: number }[]) => [{ weightGrams: 1200, lengthCm: 30, widthCm: 20, heightCm: 10, lines }];

export interface FulfilmentSummary { fulfilmentId: string; orderId: string; locationId: string; kind: string; status: string; lines: { sku: string; quantity: number }[] }

export function journey(h: { call: Call }, waitMs = 30_000) {
  const op = { key: KEYS.operator };
  const until = <T>(probe: () => Promise<T | undefined>) => eventually(probe, waitMs, 50);
  const fulfilment = async (id: string) => (await h.call('GET', `/fulfilments/${id}`, op)).body;
  const whenStatus = (id: string, status: string) => until(async () => { const f = await fulfilment(id); return f.status === status ? f : undefined; });
  const self = {
    until,
    fulfilment,
    whenStatus,
    /** Receives stock and waits until the stock read model (where sourcing looks) shows it. */
    async receive(sku: string, locationId: string, quantity: number): Promise<void> {
      const r = await h.call('POST', '/inventory/receipts', { ...op, body: { sku, locationId, quantity } });
      expect(r.status).to.equal(201);
      await h.call('GET', `/inventory/${sku}?minPosition=${r.body.position}`, op);
    },
    async place(lines: { sku: string; quantity: number; unitPrice: number }[], delivery: unknown = { method: 'ship', speed: 'standard', address: HAMBURG_ADDRESS }): Promise<string> {
      const r = await h.call('POST', '/orders', { key: KEYS.client, body: anOrderBody({ customer: { id: uniqueName('c') }, lines, delivery }) });
      expect(r.status).to.equal(201);
      return r.body.orderId;
    },
    order: async (id: string) => (await h.call('GET', `/orders/${id}`, op)).body,
    /** The order's fulfilments in the work queues, once there are at least `count`. */
    async fulfilmentsOf(orderId: string, count: number): Promise<FulfilmentSummary[]> {
      return until(async () => {
        const page = (await h.call('GET', '/fulfilments?limit=200', op)).body.fulfilments.filter((f: { orderId: string }) => f.orderId === orderId);
        return page.length >= count ? page : undefined;
      });
    },
    /** Picks every line in full and packs it in one parcel (202: the label job takes over). */
    async pickAndPackOnly(f: Pick<FulfilmentSummary, 'fulfilmentId' | 'lines'>): Promise<void> {
      const lines = f.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
      expect((await h.call('POST', `/fulfilments/${f.fulfilmentId}/pick`, { ...op, body: { lines } })).status).to.equal(200);
      const packed = await h.call('POST', `/fulfilments/${f.fulfilmentId}/pack`, { ...op, body: { packages: parcelOf(lines) } });
      expect(packed.status).to.equal(202);
    },
    /** Picks and packs, and answers the fulfilment once labelled. */
    async pickAndPack(f: Pick<FulfilmentSummary, 'fulfilmentId' | 'lines'>): Promise<any> {
      await self.pickAndPackOnly(f);
      return whenStatus(f.fulfilmentId, 'labelled');
    },
  };
  return self;
}

/** A tracking update as the carrier posts it: signed with its secret (the development one unless given) at `at` (Unix seconds). */
export function signed(carrierId: string, body: unknown, secret = `dev-${carrierId}-webhook-secret`, at = Math.floor(Date.now() / 1000)) {
  const raw = JSON.stringify(body);
  const signature = createHmac('sha256', secret).update(`${at}.${raw}`).digest('hex');
  return { key: null, raw, headers: { 'content-type': 'application/json', 'x-carrier-timestamp': String(at), 'x-carrier-signature': `sha256=${signature}` } };
}
