import type { Knex } from 'knex';
import type { EventStore, RecordedEvent, Subscription } from '../../event-store/event-store.port.js';
import type { Logger } from '../../platform/logger.js';
import type { CommandMetadata } from '../decider.js';
import type { Allocator } from './allocator.js';

const CONCURRENCY = 256;

/**
 * Sourcing as a process manager on the log: it allocates each placed order and releases each
 * cancelled or rejected one, a batch at a time, many orders at once, then moves its checkpoint. The
 * checkpoint row is locked for the batch, so a second process waits instead of allocating the
 * same orders. A batch that may have been interrupted (the first after a start or a failure, or
 * one whose lock another process held: it may have died holding it) is handled as such: what an
 * order holds without a recorded allocation is released before it is allocated again.
 */
export class SourcingProcess {
  private subscription?: Subscription;
  private resumed = true;

  constructor(
    private readonly store: EventStore,
    private readonly knex: Knex,
    private readonly allocator: Allocator,
    private readonly log: Logger,
    private readonly options: { name?: string; batchSize?: number; gatherMs?: number; now?: () => Date } = {},
  ) {}

  private get name(): string { return this.options.name ?? 'sourcing'; }

  async start(): Promise<void> {
    await this.knex.raw('INSERT INTO dispatcher_checkpoints (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING', [this.name]);
    const row = await this.knex('dispatcher_checkpoints').where({ name: this.name }).first('position');
    this.resumed = true;
    this.subscription = this.store.subscribe({
      after: Number(row.position),
      batchSize: this.options.batchSize ?? 500,
      gatherMs: this.options.gatherMs,
      onEvents: (events) => this.handle(events),
      onError: (err) => { this.resumed = true; this.log.error({ err }, 'sourcing batch failed; retrying'); },
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  async handle(events: RecordedEvent[]): Promise<void> {
    if (!(await this.inTurn(events, { wait: false, afterCrash: this.resumed }))) {
      await this.inTurn(events, { wait: true, afterCrash: true });
    }
    this.resumed = false;
  }

  /** Handles the batch holding the checkpoint lock; without `wait`, answers false if another process holds it. */
  private async inTurn(events: RecordedEvent[], { wait, afterCrash }: { wait: boolean; afterCrash: boolean }): Promise<boolean> {
    const name = this.name;
    try {
      await this.knex.transaction(async (trx) => {
        const locking = trx('dispatcher_checkpoints').where({ name }).forUpdate();
        const row = await (wait ? locking : locking.noWait()).first('position');
        const work = events.filter((e) => e.position > Number(row.position) && (e.type === 'OrderPlaced' || e.type === 'OrderCancelled' || e.type === 'OrderRejected'));
        await pool(work, CONCURRENCY, async (e) => {
          const orderId = (e.data as { orderId: string }).orderId;
          const metadata: CommandMetadata = {
            now: (this.options.now?.() ?? new Date()).toISOString(), correlationId: orderId, causationId: e.id, actor: { kind: 'system', id: name },
          };
          if (e.type === 'OrderPlaced') await this.allocator.allocate(orderId, metadata, { afterCrash });
          else await this.allocator.releaseOrder(orderId, metadata);
        });
        const last = events[events.length - 1].position;
        if (last > Number(row.position)) await trx('dispatcher_checkpoints').where({ name }).update({ position: last, updated_at: trx.fn.now() });
      });
      return true;
    } catch (err) {
      if (!wait && (err as { code?: string }).code === '55P03') return false;      // lock_not_available
      throw err;
    }
  }
}

/** Runs `each` over `items` with at most `limit` at once; rejects with the first failure once all have settled. */
async function pool<T>(items: T[], limit: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await each(item);
      } catch (err) {
        failure ??= err;
      }
    }
  });
  await Promise.all(lanes);
  if (failure !== undefined) throw failure;
}
