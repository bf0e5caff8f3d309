// Configuration is read from the environment once, in main.ts or a test helper, and passed down.

export type Role = 'api' | 'projections' | 'sourcing' | 'jobs';
export type ApiRole = 'client' | 'operator' | 'analyst' | 'auditor' | 'admin';
const API_ROLES: ApiRole[] = ['client', 'operator', 'analyst', 'auditor', 'admin'];
const ROLES: Role[] = ['api', 'projections', 'sourcing', 'jobs'];

/** Costs in minor units; shipping per parcel grows with great-circle km to the customer. */
export const DEFAULT_SOURCING_COSTS = {
  shippingBase: 300,
  shippingPerKm: 1,
  extraParcelPenalty: 500,
  expressPerKmFactor: 10,
  transferPerKm: 1,
  transferBase: 200,
};

export interface FraudRules {
  /** Score at or above which an order goes to manual review. */
  reviewAt: number;
  /** Score at or above which an order is rejected outright. */
  rejectAt: number;
  highValue: { minor: number; points: number };
  veryHighValue: { minor: number; points: number };
  newCustomer: number;
  missingAddressGeo: number;
  velocityCustomer1h: { max: number; points: number };
  velocityCustomer24h: { max: number; points: number };
  velocityEmail1h: { max: number; points: number };
  velocityEmail24h: { max: number; points: number };
  velocityAddress1h: { max: number; points: number };
  velocityAddress24h: { max: number; points: number };
  velocityCard1h: { max: number; points: number };
  velocityCard24h: { max: number; points: number };
  largeQuantity: { min: number; points: number };
  /** Many different SKUs in one basket. */
  wideBasket: { min: number; points: number };
  /** Points by how the order leaves: shipping to an address is riskier than a pickup at the counter. */
  delivery: { ship: number; pickup: number };
  /** Points by channel. */
  channel: { web: number; mobile: number; store: number; marketplace: number; social: number };
}

export const DEFAULT_FRAUD_RULES: FraudRules = {
  reviewAt: 50,
  rejectAt: 80,
  highValue: { minor: 50_000, points: 20 },
  veryHighValue: { minor: 200_000, points: 40 },
  newCustomer: 10,
  missingAddressGeo: 5,
  velocityCustomer1h: { max: 3, points: 30 },
  velocityCustomer24h: { max: 10, points: 15 },
  velocityEmail1h: { max: 3, points: 20 },
  velocityEmail24h: { max: 10, points: 25 },
  velocityAddress1h: { max: 5, points: 15 },
  velocityAddress24h: { max: 10, points: 20 },
  velocityCard1h: { max: 3, points: 30 },
  velocityCard24h: { max: 8, points: 25 },
  largeQuantity: { min: 20, points: 15 },
  wideBasket: { min: 15, points: 10 },
  delivery: { ship: 0, pickup: 0 },
  channel: { web: 0, mobile: 0, store: 0, marketplace: 0, social: 5 },
};

/** The sandbox carriers (carriers/sandbox-rates.ts holds their price lists). */
export const SANDBOX_CARRIER_IDS = ['nationalpost', 'parcelnet', 'jetexpress'] as const;
export type SandboxCarrierId = (typeof SANDBOX_CARRIER_IDS)[number];

/**
 * What a sandbox carrier does wrong, for every shipment or only the one whose reference is given:
 * down (every call fails), slow (quotes answer after the quote timeout), fail_once (a label
 * purchase fails transiently on its first attempt), lose_once (the label is made but the answer
 * is lost), refuse_once (the first purchase for each shipment is refused for good, and that
 * refusal is the answer to its key from then on; a purchase under another key is sold),
 * delivery_exception (the first delivery attempt fails; delivered the next working day).
 */
export const CARRIER_FAULTS = ['down', 'slow', 'fail_once', 'lose_once', 'refuse_once', 'delivery_exception'] as const;
export type CarrierFault = (typeof CARRIER_FAULTS)[number];
export interface SandboxFault { fault: CarrierFault; reference?: string }

/** Preferred carriers win ties, and win when within `marginPercent` of the best price; excluded ones are never chosen. */
export interface CarrierPreferences { preferred: string[]; excluded: string[]; marginPercent: number }

export interface CarrierSettings {
  enabled: SandboxCarrierId[];
  preferences: CarrierPreferences;
  /** The `standard` speed takes the cheapest quote with at most this many transit days. */
  standardMaxDays: number;
  /** A carrier that has not quoted by then is listed as unavailable, and the others are used. */
  quoteTimeoutMs: number;
  /** Per carrier, the secret its tracking webhooks are signed with. */
  webhookSecrets: Map<string, string>;
  usingDevWebhookSecrets: boolean;
  /** clock: carrier seconds per real second, so shipments can move on faster in tests and demos. */
  sandbox: { latencyMs: number; faults: Partial<Record<SandboxCarrierId, SandboxFault[]>>; clock: number };
}

export interface SourcingCosts {
  shippingBase: number;
  shippingPerKm: number;
  extraParcelPenalty: number;
  expressPerKmFactor: number;
  transferPerKm: number;
  transferBase: number;
}

export interface Config {
  env: string;
  host: string;
  port: number;
  roles: Role[];
  logLevel: string;
  eventStore: 'postgres' | 'eventstoredb';
  databaseUrl: string;
  databaseSchema: string;
  pgPoolSize: number;
  eventStoreUrl: string;
  redisUrl: string;
  queuePrefix: string;
  jobConcurrency: number;
  apiKeys: Map<string, ApiRole>;
  usingDevKey: boolean;
  fraud: FraudRules;
  /** When card payments are captured: when a shipment leaves (for what it carries), or in full on release. */
  paymentCapture: 'on_shipment' | 'on_release';
  /** The sandbox gateway's simulated network latency. */
  sandboxLatencyMs: number;
  /** Customer notifications are posted here, signed with the secret, besides going into the outbox table. */
  notifyWebhook?: { url: string; secret: string };
  /** How long a job is locked to its worker without a renewal: a killed worker's job runs again after this. */
  jobLockMs: number;
  sourcing: SourcingCosts;
  /** How long a pickup waits at the counter before it expires and the order is cancelled. */
  pickupExpiryHours: number;
  /** Shipments nobody has heard about for `pollAfterMs` are asked after at their carrier, every `pollEveryMs`. */
  tracking: { pollAfterMs: number; pollEveryMs: number };
  /**
   * Returns: units come back within `windowDays` of their delivery; the order's shipping is
   * refunded with the receipt that brings its last unit back (`refundShipping`); an exchange's
   * replacement is ordered at the request, once the parcel moves, or on receipt (`exchangeShipsAt`).
   */
  returns: { windowDays: number; refundShipping: boolean; exchangeShipsAt: 'request' | 'in_transit' | 'received' };
  carriers: CarrierSettings;
}

export class ConfigError extends Error {}

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/oms';

/** Queues named after the database and schema, so two deployments sharing a Redis never take each other's jobs. */
function defaultQueuePrefix(databaseUrl: string, schema: string): string {
  const url = new URL(databaseUrl);
  return `oms-${url.hostname}-${url.port || '5432'}-${decodeURIComponent(url.pathname.slice(1))}-${schema}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  const roles = list(env.OMS_ROLES ?? 'api,projections,sourcing,jobs').map((r) => {
    if (!ROLES.includes(r as Role)) throw new ConfigError(`OMS_ROLES: unknown role "${r}" (use ${ROLES.join(', ')})`);
    return r as Role;
  });
  const eventStore = env.EVENT_STORE ?? 'postgres';
  if (eventStore !== 'postgres' && eventStore !== 'eventstoredb') {
    throw new ConfigError(`EVENT_STORE must be postgres or eventstoredb, got "${eventStore}"`);
  }
  const schema = env.DATABASE_SCHEMA ?? 'public';
  // The schema names the LISTEN/NOTIFY channel too, which PostgreSQL limits to 63 bytes.
  if (!/^[a-z_][a-z0-9_]{0,39}$/.test(schema)) throw new ConfigError('DATABASE_SCHEMA must be a lower-case SQL identifier of at most 40 characters');
  const { apiKeys, usingDevKey } = parseApiKeys(env.OMS_API_KEYS, nodeEnv);
  return {
    env: nodeEnv,
    host: env.HOST ?? '0.0.0.0',
    port: int(env.PORT, 3000, 'PORT'),
    roles,
    logLevel: env.LOG_LEVEL ?? 'info',
    eventStore,
    databaseUrl: env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    databaseSchema: schema,
    pgPoolSize: Math.max(2, int(env.PG_POOL_SIZE, 10, 'PG_POOL_SIZE')),          // migrations hold one connection while using another
    eventStoreUrl: env.EVENTSTORE_URL ?? 'esdb://127.0.0.1:2113?tls=false',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    queuePrefix: env.QUEUE_PREFIX ?? defaultQueuePrefix(env.DATABASE_URL ?? DEFAULT_DATABASE_URL, schema),
    jobConcurrency: int(env.JOB_CONCURRENCY, 128, 'JOB_CONCURRENCY'),
    apiKeys,
    usingDevKey,
    fraud: env.FRAUD_RULES ? { ...DEFAULT_FRAUD_RULES, ...parseJson<FraudRules>(env.FRAUD_RULES, 'FRAUD_RULES') } : DEFAULT_FRAUD_RULES,
    paymentCapture: oneOf(env.PAYMENT_CAPTURE, ['on_shipment', 'on_release'] as const, 'on_shipment', 'PAYMENT_CAPTURE'),
    sandboxLatencyMs: int(env.SANDBOX_GATEWAY_LATENCY_MS, 30, 'SANDBOX_GATEWAY_LATENCY_MS'),
    notifyWebhook: webhook(env.NOTIFY_WEBHOOK_URL, env.NOTIFY_WEBHOOK_SECRET),
    jobLockMs: Math.max(1000, int(env.JOB_LOCK_MS, 30_000, 'JOB_LOCK_MS')),
    pickupExpiryHours: positive(env.PICKUP_EXPIRY_HOURS, 72, 'PICKUP_EXPIRY_HOURS'),
    tracking: {
      pollAfterMs: Math.max(1000, int(env.TRACKING_POLL_AFTER_MS, 6 * 3600_000, 'TRACKING_POLL_AFTER_MS')),
      pollEveryMs: Math.max(1000, int(env.TRACKING_POLL_EVERY_MS, 60_000, 'TRACKING_POLL_EVERY_MS')),
    },
    returns: {
      windowDays: positive(env.RETURN_WINDOW_DAYS, 30, 'RETURN_WINDOW_DAYS'),
      refundShipping: oneOf(env.RETURN_REFUND_SHIPPING, ['true', 'false'] as const, 'true', 'RETURN_REFUND_SHIPPING') === 'true',
      exchangeShipsAt: oneOf(env.EXCHANGE_SHIPS_AT, ['request', 'in_transit', 'received'] as const, 'in_transit', 'EXCHANGE_SHIPS_AT'),
    },
    sourcing: env.SOURCING_COSTS ? { ...DEFAULT_SOURCING_COSTS, ...parseJson<SourcingCosts>(env.SOURCING_COSTS, 'SOURCING_COSTS') } : DEFAULT_SOURCING_COSTS,
    carriers: carrierSettings(env, nodeEnv),
  };
}

function carrierSettings(env: NodeJS.ProcessEnv, nodeEnv: string): CarrierSettings {
  const carrierId = (id: unknown, name: string): SandboxCarrierId => {
    if (!SANDBOX_CARRIER_IDS.includes(id as SandboxCarrierId)) throw new ConfigError(`${name}: unknown carrier "${String(id)}" (use ${SANDBOX_CARRIER_IDS.join(', ')})`);
    return id as SandboxCarrierId;
  };
  const enabled = env.CARRIERS ? list(env.CARRIERS).map((id) => carrierId(id, 'CARRIERS')) : [...SANDBOX_CARRIER_IDS];
  if (enabled.length === 0) throw new ConfigError('CARRIERS must name at least one carrier');
  const prefs = jsonObject<CarrierPreferences>(env.CARRIER_PREFERENCES, 'CARRIER_PREFERENCES');
  const ids = (v: unknown, name: string) => {
    if (v !== undefined && !Array.isArray(v)) throw new ConfigError(`CARRIER_PREFERENCES.${name} must be a list of carrier ids`);
    return ((v ?? []) as unknown[]).map((id) => carrierId(id, `CARRIER_PREFERENCES.${name}`));
  };
  const margin = prefs.marginPercent ?? 0;
  if (typeof margin !== 'number' || !(margin >= 0)) throw new ConfigError('CARRIER_PREFERENCES.marginPercent must be a number >= 0');
  const faults: CarrierSettings['sandbox']['faults'] = {};
  for (const [id, spec] of Object.entries(jsonObject<Record<string, unknown>>(env.SANDBOX_CARRIER_FAULTS, 'SANDBOX_CARRIER_FAULTS'))) {
    faults[carrierId(id, 'SANDBOX_CARRIER_FAULTS')] = (Array.isArray(spec) ? spec : [spec]).map((f): SandboxFault => {
      const fault = (typeof f === 'string' ? { fault: f } : f) as SandboxFault;
      if (!CARRIER_FAULTS.includes(fault?.fault) || (fault.reference !== undefined && typeof fault.reference !== 'string')) {
        throw new ConfigError(`SANDBOX_CARRIER_FAULTS.${id}: each fault is one of ${CARRIER_FAULTS.join(', ')}, or { "fault", "reference"? }`);
      }
      return fault.reference === undefined ? { fault: fault.fault } : { fault: fault.fault, reference: fault.reference };
    });
  }
  const clock = Number(env.SANDBOX_CARRIER_CLOCK || 1);
  if (!(clock > 0) || !Number.isFinite(clock)) throw new ConfigError('SANDBOX_CARRIER_CLOCK must be a positive number (carrier seconds per real second)');
  return {
    enabled,
    preferences: { preferred: ids(prefs.preferred, 'preferred'), excluded: ids(prefs.excluded, 'excluded'), marginPercent: margin },
    standardMaxDays: Math.max(1, int(env.STANDARD_MAX_DAYS, 5, 'STANDARD_MAX_DAYS')),
    quoteTimeoutMs: Math.max(1, int(env.CARRIER_QUOTE_TIMEOUT_MS, 1500, 'CARRIER_QUOTE_TIMEOUT_MS')),
    ...webhookSecrets(env.CARRIER_WEBHOOK_SECRETS, enabled, nodeEnv, carrierId),
    sandbox: { latencyMs: int(env.SANDBOX_CARRIER_LATENCY_MS, 40, 'SANDBOX_CARRIER_LATENCY_MS'), faults, clock },
  };
}

/** `carrierId:secret,...`, a secret for every enabled carrier; outside production, unset means a development secret for each. */
function webhookSecrets(raw: string | undefined, enabled: SandboxCarrierId[], nodeEnv: string, carrierId: (id: string, name: string) => SandboxCarrierId) {
  const secrets = new Map<string, string>();
  if (!raw || raw.trim() === '') {
    if (nodeEnv === 'production') throw new ConfigError('CARRIER_WEBHOOK_SECRETS is required when NODE_ENV=production');
    for (const id of enabled) secrets.set(id, `dev-${id}-webhook-secret`);
    return { webhookSecrets: secrets, usingDevWebhookSecrets: true };
  }
  for (const entry of list(raw)) {
    const at = entry.indexOf(':');
    const secret = entry.slice(at + 1);
    if (at <= 0 || secret.length < 16) throw new ConfigError(`CARRIER_WEBHOOK_SECRETS: "${entry.slice(0, Math.max(at, 0))}:..." is not carrierId:secret with a secret of at least 16 characters`);
    secrets.set(carrierId(entry.slice(0, at), 'CARRIER_WEBHOOK_SECRETS'), secret);
  }
  const missing = enabled.filter((id) => !secrets.has(id));
  if (missing.length) throw new ConfigError(`CARRIER_WEBHOOK_SECRETS has no secret for ${missing.join(', ')}`);
  return { webhookSecrets: secrets, usingDevWebhookSecrets: false };
}

function parseApiKeys(raw: string | undefined, nodeEnv: string): { apiKeys: Map<string, ApiRole>; usingDevKey: boolean } {
  const apiKeys = new Map<string, ApiRole>();
  if (!raw || raw.trim() === '') {
    if (nodeEnv === 'production') throw new ConfigError('OMS_API_KEYS is required when NODE_ENV=production');
    apiKeys.set('dev-admin-key', 'admin');
    return { apiKeys, usingDevKey: true };
  }
  for (const entry of list(raw)) {
    const at = entry.lastIndexOf(':');
    const key = entry.slice(0, at);
    const role = entry.slice(at + 1) as ApiRole;
    if (at <= 0 || !API_ROLES.includes(role)) throw new ConfigError(`OMS_API_KEYS: "${entry}" is not key:role with a role of ${API_ROLES.join(', ')}`);
    apiKeys.set(key, role);
  }
  return { apiKeys, usingDevKey: false };
}

function oneOf<T extends string>(raw: string | undefined, values: readonly T[], fallback: T, name: string): T {
  if (raw === undefined || raw === '') return fallback;
  if (!values.includes(raw as T)) throw new ConfigError(`${name} must be one of ${values.join(', ')}`);
  return raw as T;
}

function webhook(url: string | undefined, secret: string | undefined): { url: string; secret: string } | undefined {
  if (!url) return undefined;
  if (!/^https?:\/\//.test(url)) throw new ConfigError('NOTIFY_WEBHOOK_URL must be an http(s) URL');
  if (!secret || secret.length < 16) throw new ConfigError('NOTIFY_WEBHOOK_SECRET of at least 16 characters is required with NOTIFY_WEBHOOK_URL');
  return { url, secret };
}

function list(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

/** A positive number, fractions allowed (a test's pickup may expire in seconds). */
function positive(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) throw new ConfigError(`${name} must be a positive number`);
  return n;
}

function int(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer`);
  return n;
}

function jsonObject<T>(raw: string | undefined, name: string): Partial<T> {
  const v = raw ? parseJson<T>(raw, name) : {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${name} must be a JSON object`);
  return v;
}

function parseJson<T>(raw: string, name: string): Partial<T> {
  try {
    return JSON.parse(raw) as Partial<T>;
  } catch {
    throw new ConfigError(`${name} must be JSON`);
  }
}
