import { deleteQueueKeys as deleteQueues } from '../../jobs/queues.js';
import { Redis } from 'ioredis';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import { startService, type Service } from '../../service.js';
import { isolatedSchema, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './test-env.js';

export const KEYS = {
  client: 'client-key', otherClient: 'client2-key', operator: 'operator-key', analyst: 'analyst-key', auditor: 'auditor-key', admin: 'admin-key',
} as const;

/** Fraud rules that never hold or reject: for tests of something else that place many similar orders. */
export const NO_FRAUD_HOLDS = { FRAUD_RULES: JSON.stringify({ reviewAt: 101, rejectAt: 101 }) };

export type Call = (method: string, path: string, opts?: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string>; timeoutMs?: number })
  => Promise<{ status: number; body: any; headers: Headers }>;

export interface Harness {
  service: Service;
  url: string;
  queuePrefix: string;
  call: Call;
  stop(): Promise<void>;
}

/** The API keys every test service accepts, with their roles. */
export const TEST_API_KEYS = `${KEYS.client}:client,${KEYS.otherClient}:client,${KEYS.operator}:operator,${KEYS.analyst}:analyst,${KEYS.auditor}:auditor,${KEYS.admin}:admin`;

/** Calls the API at `url` as the admin unless another key (or none) is given; bodies are parsed when they are JSON. */
export function apiClient(url: string): Call {
  return async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const key = opts.key === undefined ? KEYS.admin : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, body, ...(opts.timeoutMs ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* plain text such as /metrics */ }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/** The whole service in this process, on its own schema and queue prefix, on a free port. */
export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const db = await isolatedSchema('svc');
  const queuePrefix = uniqueName('oms-test');
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: db.schema,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    PORT: '0',
    HOST: '127.0.0.1',
    OMS_API_KEYS: TEST_API_KEYS,
    ...env,
  });
  const service = await startService(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  const url = service.url ?? '';
  return {
    service,
    url,
    queuePrefix,
    call: apiClient(url),
    async stop() {
      await service.stop();
      await db.drop();
      await deleteQueueKeys(queuePrefix);
    },
  };
}

export async function deleteQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    await deleteQueues(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

export async function eventually<T>(probe: () => Promise<T | undefined>, ms = 5000, every = 25): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export function anOrderBody(overrides: Record<string, unknown> = {}) {
  return {
    channel: 'marketplace',
    source: 'lazada',
    externalId: uniqueName('LZ'),
    currency: 'USD',
    customer: { id: 'c-42', email: 'ana@example.com', name: 'Ana' },
    lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 1999 }],
    delivery: { method: 'ship', speed: 'standard', address: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US', geo: { lat: 40.7, lon: -74 } } },
    payment: { method: 'card', token: 'tok_ok' },
    ...overrides,
  };
}
