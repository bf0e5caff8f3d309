import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Notification } from '../../notifications/notifier.port.js';
import { signature, WebhookNotifier } from '../../notifications/webhook-notifier.js';

const SECRET = 'a-shared-secret-of-some-length';
const notification: Notification = {
  id: '0192f3a0-0000-7000-8000-000000000001', orderId: 'o-1', kind: 'order_confirmed', at: '2026-11-26T10:00:00.000Z',
  customer: { id: 'c-1', email: 'ana@example.com' }, data: { total: 1999, currency: 'EUR' },
};

describe('webhook notifier', () => {
  let server: Server;
  let url: string;
  let answer = 204;
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { received.push({ headers: req.headers, body }); res.writeHead(answer).end(); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/oms`;
  });
  after(async () => { await new Promise((r) => server.close(r)); });

  it('posts the notification as JSON, signed so the receiver can verify it', async () => {
    await new WebhookNotifier(url, SECRET).send(notification);
    const { headers, body } = received[received.length - 1];
    expect(JSON.parse(body)).to.deep.equal(notification);
    expect(headers['content-type']).to.equal('application/json');
    expect(headers['x-oms-notification-id']).to.equal(notification.id);
    const timestamp = String(headers['x-oms-timestamp']);
    expect(headers['x-oms-signature']).to.equal(`sha256=${signature(SECRET, timestamp, body)}`);
    expect(headers['x-oms-signature']).to.not.equal(`sha256=${signature('another-secret-entirely', timestamp, body)}`);
  });

  it('fails when the receiver does not accept it, so the job retries', async () => {
    answer = 503;
    try {
      let failed: unknown;
      await new WebhookNotifier(url, SECRET).send(notification).catch((err) => { failed = err; });
      expect(String((failed as Error).message)).to.contain('503');
    } finally {
      answer = 204;
    }
  });
});
