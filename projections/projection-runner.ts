import type { Knex } from 'knex';
import type { EventStore, RecordedEvent, Subscription } from '../event-store/event-store.port.js';
import type { Logger } from '../platform/logger.js';
import { checkpointOf } from '../read-side/positions.js';
import { toDomain, type Recorded, type ToDomain } from '../write-side/to-domain.js';
import { UnappliableEvent, type Projection } from './projection.js';

/**
 * Feeds one projection from the log. Each batch of events and the new checkpoint commit in one
 * transaction, so a crash never applies an event twice or skips one. The checkpoint row is locked
 * per batch, so two runners of the same projection (two processes) never apply an event twice.
 * Events reach the projection as domain events, through `toDomain` (the upcasters).
 */
export class ProjectionRunner {
  private subscription?: Subscription;
  private readonly handles: Set<string>;
  private lastPosition = 0;

  constructor(
    private readonly store: EventStore,
    private readonly knex: Knex,
    private readonly projection: Projection,
    private readonly log: Logger,
    private readonly options: { batchSize?: number; gatherMs?: number; toDomain?: ToDomain } = {},
  ) {
    this.handles = new Set(projection.handles);
  }

  get name(): string { return this.projection.name; }
  get position(): number { return this.lastPosition; }

  async start(): Promise<void> {
    await this.knex.raw('INSERT INTO projection_checkpoints (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING', [this.projection.name]);
    this.lastPosition = await checkpointOf(this.knex, this.projection.name);
    this.subscription = this.store.subscribe({
      after: this.lastPosition,
      batchSize: this.options.batchSize ?? 500,
      gatherMs: this.options.gatherMs,
      onEvents: (events) => this.applyBatch(events),
      onError: (err) => this.log.error({ err, projection: this.projection.name }, 'projection batch failed; retrying'),
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  /** Applies a batch and its checkpoint in one transaction; on an error, retries event by event. */
  async applyBatch(stored: RecordedEvent[]): Promise<void> {
    const domain = this.options.toDomain ?? toDomain;
    const events = stored.map((e) => domain(e));
    const last = events[events.length - 1].position;
    if (!events.some((e) => this.handles.has(e.type))) {
      // Nothing to apply: only move the checkpoint, in one statement, unless it is behind what
      // this runner committed (then the transaction below applies what was lost first).
      const moved = await this.knex('projection_checkpoints').where({ name: this.projection.name }).andWhere('position', '<', last)
        .andWhere('position', '>=', this.lastPosition).update({ position: last, updated_at: this.knex.fn.now() });
      const { position } = moved > 0 ? { position: last } : await this.knex('projection_checkpoints').where({ name: this.projection.name }).first('position');
      if (Number(position) >= this.lastPosition) {
        this.lastPosition = Math.max(this.lastPosition, last);
        return;
      }
    }
    const { projection } = this;
    try {
      await this.inTransaction(events, projection.applyBatch
        ? async (trx, mine) => projection.applyBatch!(mine, trx)
        : async (trx, mine) => { for (const e of mine) await projection.apply(e, trx); });
    } catch (batchError) {
      this.log.warn({ err: batchError, projection: this.projection.name }, 'batch failed; applying event by event');
      await this.inTransaction(events, async (trx, mine) => {
        for (const e of mine) {
          try {
            await trx.transaction(async (sp) => projection.apply(e, sp));
          } catch (err) {
            if (!isAboutTheEvent(err)) throw err;                // the database, not the event: retry the batch later
            await recordFailure(trx, projection.name, e, err);
            this.log.error({ err, projection: projection.name, eventId: e.id, position: e.position }, 'event not applied; recorded');
          }
        }
      });
    }
    this.lastPosition = last;
  }

  /**
   * Runs `work` on the handled events past the checkpoint, and moves the checkpoint, in one
   * transaction. Read models commit asynchronously, so a database crash may lose the last batches
   * this runner committed, checkpoint and rows together: a checkpoint found behind them means the
   * events in between are read from the log again and applied first.
   */
  private async inTransaction(events: Recorded[], work: (trx: Knex.Transaction, mine: Recorded[]) => Promise<void>): Promise<void> {
    const name = this.projection.name;
    const last = events[events.length - 1].position;
    await this.knex.transaction(async (trx) => {
      const row = await trx('projection_checkpoints').where({ name }).forUpdate().first('position');
      const from = Number(row.position);
      const lost = from < this.lastPosition ? await this.readBetween(from, events[0].position) : [];
      if (lost.length > 0) this.log.warn({ projection: name, from, events: lost.length }, 'the read model lost commits (a database crash): applying them again');
      const mine = [...lost, ...events].filter((e) => e.position > from && this.handles.has(e.type));
      if (mine.length > 0) await work(trx, mine);
      if (last > from) await trx('projection_checkpoints').where({ name }).update({ position: last, updated_at: trx.fn.now() });
    });
  }

  /** The events after `after` and before `before`, from the log. */
  private async readBetween(after: number, before: number): Promise<Recorded[]> {
    const domain = this.options.toDomain ?? toDomain;
    const found: Recorded[] = [];
    for (let from = after; ;) {
      const page = (await this.store.readAll({ after: from, maxCount: 1000 })).filter((e) => e.position < before);
      found.push(...page.map((e) => domain(e)));
      if (page.length < 1000) return found;
      from = page[page.length - 1].position;
    }
  }
}

/** An error the event itself causes (it cannot be applied, its data breaks a constraint or the code) rather than the database. */
function isAboutTheEvent(err: unknown): boolean {
  const code = String((err as { code?: string }).code ?? '');
  return err instanceof UnappliableEvent || err instanceof TypeError || err instanceof RangeError || code.startsWith('22') || code.startsWith('23');
}

async function recordFailure(trx: Knex.Transaction, projection: string, e: Recorded, err: unknown): Promise<void> {
  await trx('projection_failures').insert({
    projection, position: e.position, event_id: e.id, event_type: e.type, error: err instanceof Error ? err.message : String(err),
  });
}
