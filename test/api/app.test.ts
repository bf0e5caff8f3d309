import { expect } from 'chai';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createApp, type Api } from '../../api/app.js';
import type { ApiDeps } from '../../api/deps.js';
import { keyIdOf } from '../../api/auth.js';
import { createMetrics } from '../../platform/metrics.js';
import { anOrderBody } from '../support/service-harness.js';

describe('the API app, with its dependencies stubbed', () => {
  const lines: Record<string, unknown>[] = [];
  let children = 0;
  let url: string;
  let api: Api;
  let server: Server;
  let placing: (() => Promise<unknown>) | undefined;

  before(async () => {
    const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    const child = log.child.bind(log);
    log.child = ((...args: Parameters<typeof child>) => { children++; return child(...args); }) as typeof log.child;
    const deps = {
      log, metrics: createMetrics(), apiKeys: new Map([['key-1', 'client']]),
      write: { placeOrder: async () => { if (placing) return placing(); throw new Error('the disk is on fire'); } },
    } as unknown as ApiDeps;
    api = createApp(deps);
    server = api.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  beforeEach(() => { lines.length = 0; children = 0; placing = undefined; });

  const post = (body: unknown) => fetch(`${url}/orders`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { authorization: 'Bearer key-1', 'content-type': 'application/json', 'x-request-id': 'req-42' },
  });

  it('tags what a failing request logs with its id and the caller\'s key id and role', async () => {
    const res = await post(anOrderBody());
    expect(res.status).to.equal(500);
    const logged = lines.filter((l) => l.requestId === 'req-42');
    expect(logged.map((l) => l.msg)).to.include.members(['unexpected error', 'request']);
    for (const l of logged) expect(l).to.include({ keyId: keyIdOf('key-1'), role: 'client' });
  });

  it('makes no logger for a request that logs nothing', async () => {
    const res = await post({ not: 'an order' });
    expect(res.status).to.equal(400);
    expect(lines).to.have.length(0);
    expect(children).to.equal(0);
  });

  it('is idle only once every request it took has been handled, even one whose client hung up', async () => {
    let release!: () => void;
    let started!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const handling = new Promise<void>((resolve) => { started = resolve; });
    placing = async () => { started(); await gate; throw new Error('the service is stopping'); };
    // The server has seen the client go once the response is closed before it was sent.
    const gone = new Promise<void>((resolve) => { server.once('request', (_req, res) => res.once('close', resolve)); });
    const hungUp = new AbortController();
    const request = fetch(`${url}/orders`, {
      method: 'POST', body: JSON.stringify(anOrderBody()), signal: hungUp.signal,
      headers: { authorization: 'Bearer key-1', 'content-type': 'application/json' },
    }).catch(() => 'hung up');
    await handling;
    hungUp.abort();
    expect(await request).to.equal('hung up');
    let idle = false;
    const idled = api.idle().then(() => { idle = true; });
    await gone;
    expect(idle).to.equal(false);
    release();
    await idled;
    expect(idle).to.equal(true);
  });
});
