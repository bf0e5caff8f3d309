import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import type { Knex } from 'knex';
import { createApp } from './api/app.js';
import { purgeIdempotencyKeys } from './api/idempotency.js';
import type { EventStore } from './event-store/event-store.port.js';
import { openPostgresEventStore } from './event-store/postgres/postgres-event-store.js';
import { Dispatcher, jobRoutes } from './jobs/dispatcher.js';
import { createQueues, prepareQueues } from './jobs/queues.js';
import { startWorkers } from './jobs/workers.js';
import type { Config } from './platform/config.js';
import { createKnex, ensureDatabase } from './platform/db.js';
import type { Logger } from './platform/logger.js';
import { createMetrics, type Metrics } from './platform/metrics.js';
import { migrate } from './platform/migrate.js';
import { schemaMigrations } from './platform/schema.migrations.js';
import { fulfilmentsProjection } from './projections/fulfilments.projection.js';
import { returnsProjection } from './projections/returns.projection.js';
import { locationsProjection } from './projections/locations.projection.js';
import { ordersProjection } from './projections/orders.projection.js';
import { ProjectionRunner } from './projections/projection-runner.js';
import { stockLevelsProjection } from './projections/stock-levels.projection.js';
import { createWriteSide, type WriteSide } from './write-side/commands.js';
import { createAllocator } from './write-side/sourcing/allocator.js';
import { SourcingProcess } from './write-side/sourcing/sourcing.process.js';
import { listLocations } from './read-side/locations.queries.js';
import { batchedVelocity } from './read-side/orders.queries.js';
import type { PaymentGateway } from './payments/payment-gateway.port.js';
import { SandboxGateway } from './payments/sandbox-gateway.js';
import { WebhookNotifier } from './notifications/webhook-notifier.js';
import { batchedOutbox } from './notifications/outbox.js';
import { batchedStockedAt } from './read-side/inventory.queries.js';
import { fulfilmentsCreatedToday, staleShipments } from './read-side/fulfilments.queries.js';
import { staleReturnParcels } from './read-side/returns.queries.js';
import { labelRecordersFrom } from './jobs/labels.job.js';
import { refusedStep } from './jobs/fulfilment-steps.job.js';
import { keepFailedJobs } from './jobs/outstanding-jobs.js';
import { fulfilmentProcess } from './write-side/fulfilments/fulfilment.process.js';
import { ProcessManagerRunner } from './write-side/process-manager.js';
import { returnsProcess } from './write-side/returns/returns.process.js';
import type { Recorded } from './write-side/to-domain.js';
import type { Carrier } from './carriers/carrier.port.js';
import { createSandboxCarriers } from './carriers/sandbox-carriers.js';

export const PROJECTIONS = [locationsProjection, stockLevelsProjection, ordersProjection, fulfilmentsProjection, returnsProjection];

/**
 * How long each reader of the log lets events gather after a small batch: per-batch costs
 * (transactions, round trips) are paid once for many events. Read models may lag this much more;
 * sourcing, which orders wait on, gathers least.
 */
const GATHER_MS = { projections: 20, dispatcher: 10, sourcing: 5, fulfilment: 20 };

export interface Service {
  config: Config;
  /** The payment gateway the jobs call (the sandbox here; its own records are read with sandboxRecords). */
  gateway: PaymentGateway;
  /** The carriers configured (the sandbox ones here; their own records are read with sandboxLabels). */
  carriers: readonly Carrier[];
  store: EventStore;
  knex: Knex;
  write: WriteSide;
  metrics: Metrics;
  /** Base URL of the API when the api role runs. */
  url?: string;
  stop(): Promise<void>;
}

/** Memoises an async lookup for `ms`: for reference data that may be a moment old. */
function cachedFor<T>(ms: number, load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  let at = 0;
  return () => {
    if (!value || Date.now() - at > ms) {
      at = Date.now();
      value = load().catch((err) => { value = undefined; throw err; });
    }
    return value;
  };
}

/** Builds every dependency once and starts the roles named in config.roles. */
export async function startService(config: Config, log: Logger): Promise<Service> {
  const db = { databaseUrl: config.databaseUrl, schema: config.databaseSchema, poolSize: config.pgPoolSize };
  await ensureDatabase(db);
  const knex = createKnex(db, { name: 'oms-api' });
  await migrate(knex, 'oms_migrations', schemaMigrations, db.schema);
  const derived = createKnex(db, { asyncCommit: true, name: 'oms-projections' });

  let store: EventStore;
  let closeStore: () => Promise<void>;
  if (config.eventStore === 'postgres') {
    const opened = await openPostgresEventStore(db, 'oms-event-store', (err) => log.warn({ err: err.message }, 'event store connection lost'));
    ({ store } = opened);
    closeStore = opened.close;
  } else {
    const { EventStoreDbEventStore } = await import('./event-store/eventstoredb/eventstoredb-event-store.js');
    store = new EventStoreDbEventStore(config.eventStoreUrl);
    closeStore = () => store.close();
  }

  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const write = createWriteSide(store);
  const gateway: PaymentGateway = new SandboxGateway(knex, { latencyMs: config.sandboxLatencyMs });
  const carriers: readonly Carrier[] = createSandboxCarriers(knex, config.carriers);
  // The locations as sourcing and the return label job see them: a second old at most.
  const locations = cachedFor(1000, () => listLocations(knex));
  const allocator = createAllocator({
    write,
    locations,
    stockedAt: batchedStockedAt(knex),
    // Counted from the fulfilments read model, at most a second old (like the locations themselves).
    fulfilmentsToday: cachedFor(1000, () => fulfilmentsCreatedToday(knex, new Date())),
    costs: config.sourcing,
  });
  // A step the fulfilment process finds refused is kept as a failed job for operators to retry.
  const recordRefusal = (e: Recorded, reason: string) => keepFailedJobs(knex, [{ ...refusedStep(e), reason }]);
  const fulfilmentSteps = fulfilmentProcess({ write, allocator, log, recordRefusal });
  const returnSteps = returnsProcess({ write, log, exchangeShipsAt: config.returns.exchangeShipsAt, recordRefusal });
  const metrics = createMetrics();
  const queues = createQueues(redis, config.queuePrefix, (err, queue) => log.warn({ err: err.message, queue }, 'queue connection error'));
  const stops: (() => Promise<unknown>)[] = [];
  const runners: ProjectionRunner[] = [];
  let url: string | undefined;

  if (config.roles.includes('projections')) {
    for (const projection of PROJECTIONS) {
      const runner = new ProjectionRunner(store, derived, projection, log, { gatherMs: GATHER_MS.projections });
      await runner.start();
      runners.push(runner);
      stops.push(() => runner.stop());
    }
    const gauges = setInterval(() => { for (const r of runners) metrics.readModelPosition.set({ projection: r.name }, r.position); }, 1000);
    stops.push(async () => clearInterval(gauges));
  }

  if (config.roles.includes('sourcing')) {
    const sourcing = new SourcingProcess(store, derived, allocator, log, { gatherMs: GATHER_MS.sourcing });
    await sourcing.start();
    stops.push(() => sourcing.stop());
    // Fulfilment follows the log beside sourcing, on a turn of its own.
    const fulfilment = new ProcessManagerRunner(store, derived, fulfilmentSteps, log, { gatherMs: GATHER_MS.fulfilment });
    await fulfilment.start();
    stops.push(() => fulfilment.stop());
    // Returns too: opening what orders authorise, taking receipts onto the ledger, ordering exchanges.
    const returns = new ProcessManagerRunner(store, derived, returnSteps, log, { gatherMs: GATHER_MS.fulfilment });
    await returns.start();
    stops.push(() => returns.stop());
  }

  if (config.roles.includes('jobs')) {
    // Reconciling asks Redis about many jobs at once: on a connection of its own, so the queues' commands never wait behind it.
    const reconcileRedis = redis.duplicate();
    reconcileRedis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
    const dispatcher = new Dispatcher(store, derived, queues, reconcileRedis, log, {
      metrics, gatherMs: GATHER_MS.dispatcher, routes: jobRoutes({ captureOnRelease: config.paymentCapture === 'on_release' }),
      onRedisReset: () => prepareQueues(queues, { trackingPollEveryMs: config.tracking.pollEveryMs }),
    });
    await dispatcher.start();
    const notifier = config.notifyWebhook && new WebhookNotifier(config.notifyWebhook.url, config.notifyWebhook.secret);
    const now = () => new Date();
    const workers: Worker[] = await startWorkers(redis, config.queuePrefix, config.jobConcurrency, queues, {
      write, allocator, knex, rules: config.fraud, now, velocity: batchedVelocity(knex), gateway, notifier, outbox: batchedOutbox(knex),
      labels: {
        ...labelRecordersFrom(write), carriers,
        rules: { standardMaxDays: config.carriers.standardMaxDays, preferences: config.carriers.preferences }, quoteTimeoutMs: config.carriers.quoteTimeoutMs, now,
      },
      returnLabels: {
        write, carriers, locations, now,
        rules: { standardMaxDays: config.carriers.standardMaxDays, preferences: config.carriers.preferences }, quoteTimeoutMs: config.carriers.quoteTimeoutMs,
      },
      refunds: { write, gateway, now, refundShipping: config.returns.refundShipping },
      // A refused step is run again by the process that handles its event (the two handle different events).
      fulfilmentSteps: { store, step: (e) => (returnSteps.handles.includes(e.type) ? returnSteps.step(e) : fulfilmentSteps.step(e)) },
      tracking: {
        carriers, now, staleShipments: (limit) => staleShipments(knex, { olderThanMs: config.tracking.pollAfterMs, now: now(), limit }),
        recordTracking: async (id, update, metadata) => { await write.recordTracking(id, update, metadata); },
        staleReturns: (limit) => staleReturnParcels(knex, { olderThanMs: config.tracking.pollAfterMs, now: now(), limit }),
        recordReturnTracking: async (id, update, metadata) => { await write.recordReturnTracking(id, update, metadata); },
      },
    }, log, metrics, { lockDuration: config.jobLockMs, stalledInterval: config.jobLockMs, trackingPollEveryMs: config.tracking.pollEveryMs });
    stops.push(async () => {
      await dispatcher.stop();
      await Promise.all(workers.map((w) => w.close()));
      reconcileRedis.disconnect();
    });
  }

  if (config.roles.includes('api')) {
    const api = createApp({
      write, allocator, knex, log, metrics, queues, apiKeys: config.apiKeys, eventStoreKind: store.kind, pickupExpiryHours: config.pickupExpiryHours, returnWindowDays: config.returns.windowDays,
      carriers, carrierQuoteTimeoutMs: config.carriers.quoteTimeoutMs, carrierWebhookSecrets: config.carriers.webhookSecrets,
      checks: {
        eventStore: () => store.ping(),
        readModels: async () => { await knex.raw('SELECT 1 FROM projection_checkpoints LIMIT 1'); },
        queue: async () => { await redis.ping(); },
      },
    });
    const server: Server = await new Promise((resolve, reject) => {
      const s = api.app.listen(config.port, config.host, () => resolve(s)).on('error', reject);
    });
    server.keepAliveTimeout = 65_000;
    const { port } = server.address() as AddressInfo;
    url = `http://127.0.0.1:${port}`;
    const purge = setInterval(() => { purgeIdempotencyKeys(knex).catch((err) => log.warn({ err }, 'idempotency purge failed')); }, 3600_000);
    purge.unref();
    stops.unshift(async () => {
      clearInterval(purge);
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeIdleConnections(); });
      // A request whose client hung up is still being handled: let it finish before the pools close.
      await api.idle();
    });
    if (config.usingDevKey) log.warn('OMS_API_KEYS is not set: accepting only "dev-admin-key" as admin (development only)');
    if (config.carriers.usingDevWebhookSecrets) {
      log.warn({ carriers: [...config.carriers.webhookSecrets.keys()] }, 'CARRIER_WEBHOOK_SECRETS is not set: carrier webhooks are checked against "dev-<carrierId>-webhook-secret" (development only)');
    }
    log.info({ url, roles: config.roles, eventStore: store.kind }, 'API listening');
  }

  return {
    config, store, knex, write, metrics, url, gateway, carriers,
    async stop() {
      for (const stop of stops) await stop();
      await Promise.all([...queues.values()].map((q) => q.close()));
      await closeStore();
      await knex.destroy();
      await derived.destroy();
      redis.disconnect();
    },
  };
}
