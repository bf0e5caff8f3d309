import type { Queue } from 'bullmq';
import type { Knex } from 'knex';
import type { Carrier } from '../carriers/carrier.port.js';
import type { QueueName } from '../jobs/queues.js';
import type { ApiRole } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { WriteSide } from '../write-side/commands.js';
import type { Allocator } from '../write-side/sourcing/allocator.js';

/** What the app and its routes are built from. */
export interface ApiDeps {
  write: WriteSide;
  allocator: Allocator;
  knex: Knex;
  log: Logger;
  metrics: Metrics;
  apiKeys: Map<string, ApiRole>;
  eventStoreKind: 'postgres' | 'eventstoredb';
  /** Every job queue, for operators to see and retry failed jobs. */
  queues: Map<QueueName, Queue>;
  /** The carriers configured, as the port: rates are asked of all of them at once. */
  carriers: readonly Carrier[];
  /** A carrier that has not quoted by then is listed as unavailable. */
  carrierQuoteTimeoutMs: number;
  /** Each carrier's secret its tracking webhooks are signed with (CARRIER_WEBHOOK_SECRETS). */
  carrierWebhookSecrets: ReadonlyMap<string, string>;
  checks: { eventStore(): Promise<void>; readModels(): Promise<void>; queue(): Promise<void> };
  /** How long a pickup waits at the counter (PICKUP_EXPIRY_HOURS). */
  pickupExpiryHours: number;
  /** How long after delivery units may be returned (RETURN_WINDOW_DAYS). */
  returnWindowDays: number;
}
