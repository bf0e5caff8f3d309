import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { SandboxCarrier } from '../../carriers/sandbox-carriers.js';
import { SANDBOX_CARRIERS } from '../../carriers/sandbox-rates.js';
import { postTrackingWebhooks } from '../../carriers/sandbox-tracking.js';
import { readModelWorld } from '../support/world.js';

const SECRETS = new Map([['parcelnet', 'parcelnet-secret-0123456789'], ['jetexpress', 'jetexpress-secret-0123456789']]);
const TUESDAY_10 = '2025-03-11T10:00:00.000Z';

interface Received { path: string; timestamp: string; signature: string; raw: string; body: { trackingNumber: string; status: string; at: string } }

describe('sandbox carriers posting their tracking webhooks', () => {
  let knex: Knex;
  let cleanup: () => Promise<void>;
  let server: Server;
  let baseUrl: string;
  const received: Received[] = [];
  /** Answers 500 to the next update with this tracking number and status. */
  const refuse = new Set<string>();

  before(async () => {
    ({ knex, cleanup } = await readModelWorld());
    server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8').on('data', (c) => { raw += c; }).on('end', () => {
        const body = JSON.parse(raw);
        const key = `${body.trackingNumber}/${body.status}`;
        if (refuse.delete(key)) { res.statusCode = 500; res.end(); return; }
        received.push({ path: req.url!, timestamp: String(req.headers['x-carrier-timestamp']), signature: String(req.headers['x-carrier-signature']), raw, body });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await cleanup();
  });

  async function label(carrierId: 'parcelnet' | 'jetexpress', reference: string) {
    const c = new SandboxCarrier(knex, SANDBOX_CARRIERS[carrierId], { latencyMs: 1, now: () => new Date(TUESDAY_10) });
    const l = await c.buyLabel({
      from: { locationId: 'wh-1', geo: { lat: 52.52, lon: 13.405 }, cutoffHour: 16 },
      to: { line1: '1 Road', city: 'Potsdam', postalCode: '14467', country: 'DE', geo: { lat: 52.39, lon: 13.06 } },
      packages: [{ weightGrams: 1000, lengthCm: 20, widthCm: 15, heightCm: 10, lines: [] }],
      currency: 'EUR', reference, readyAt: TUESDAY_10, service: carrierId === 'parcelnet' ? 'ground' : 'express', idempotencyKey: `label:${reference}`,
    });
    return l.trackingNumber;
  }
  const run = (at: string) => postTrackingWebhooks(knex, { baseUrl, secrets: SECRETS }, { now: () => new Date(at) });
  const statusesOf = (trackingNumber: string) => received.filter((r) => r.body.trackingNumber === trackingNumber).map((r) => r.body.status);

  it('posts each update once, signed, in order per label, and posts again what the service did not take', async () => {
    const parcel = await label('parcelnet', 'f-1');
    const jet = await label('jetexpress', 'f-2');

    expect(await run(TUESDAY_10)).to.deep.equal({ posted: 2, failed: 0 });
    expect(await run(TUESDAY_10)).to.deep.equal({ posted: 0, failed: 0 });
    for (const r of received) {
      const carrierId = r.path.split('/')[2];
      expect(r.path).to.equal(`/carriers/${carrierId}/tracking`);
      expect(r.signature).to.equal(`sha256=${createHmac('sha256', SECRETS.get(carrierId)!).update(`${r.timestamp}.${r.raw}`).digest('hex')}`);
      expect(Math.abs(Number(r.timestamp) - Date.now() / 1000)).to.be.below(30);
    }
    expect(received.find((r) => r.body.trackingNumber === parcel)!.body).to.deep.equal({
      trackingNumber: parcel, status: 'label_created', at: TUESDAY_10, detail: 'Label created; the parcel is not handed over yet', location: 'wh-1',
    });

    refuse.add(`${parcel}/in_transit`);
    expect(await run('2025-03-12T00:00:00.000Z')).to.deep.equal({ posted: 1, failed: 1 });
    expect(await run('2025-03-12T00:00:00.000Z')).to.deep.equal({ posted: 1, failed: 0 });

    expect(await run('2025-03-20T00:00:00.000Z')).to.deep.equal({ posted: 4, failed: 0 });
    expect(statusesOf(parcel)).to.deep.equal(['label_created', 'in_transit', 'out_for_delivery', 'delivered']);
    expect(statusesOf(jet)).to.deep.equal(['label_created', 'in_transit', 'out_for_delivery', 'delivered']);
    expect(await knex('sandbox_carrier_labels').where({ webhooks_done: false }).count({ n: '*' })).to.deep.equal([{ n: 0 }]);
  });

  it('holds back a label\'s updates while its carrier has no secret', async () => {
    const parcel = await label('parcelnet', 'f-3');
    expect(await postTrackingWebhooks(knex, { baseUrl, secrets: new Map() }, { now: () => new Date(TUESDAY_10) })).to.deep.equal({ posted: 0, failed: 1 });
    expect(statusesOf(parcel)).to.deep.equal([]);
    expect(await run(TUESDAY_10)).to.deep.equal({ posted: 1, failed: 0 });
    expect(statusesOf(parcel)).to.deep.equal(['label_created']);
  });
});
