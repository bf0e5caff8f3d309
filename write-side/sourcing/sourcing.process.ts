import type { Knex } from 'knex';
import type { EventStore, RecordedEvent } from '../../event-store/event-store.port.js';
import type { Logger } from '../../platform/logger.js';
import type { CommandMetadata } from '../decider.js';
import type { Allocator } from './allocator.js';

/** Orders being sourced at once. */
const CONCURRENCY = 256;
/** How far (in log positions) work may start ahead of the recorded checkpoint. */
const WINDOW = 2000;
/** How often the checkpoint is recorded while work goes on. */
const CHECKPOINT_MS = 100;
/** How often a standby asks for the turn, and the process holding it checks it still does. */
const TURN_MS = 500;
/** How long after its last sign of life a process that held the turn may still be finishing work. */
const LEASE_MS = 3000;
const RETRY_MS = 500;

const isWork = (e: RecordedEvent) => e.type === 'OrderPlaced' || e.type === 'OrderCancelled' || e.type === 'OrderRejected';

/** The raw connection the turn is held on (a pg client from the knex pool). */
interface TurnConnection { query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>; __knex__disposed?: unknown }

/**
 * Sourcing as a process manager on the log: it allocates each placed order and releases each
 * cancelled or rejected one.
 *
 * One process at a time holds the turn (a session advisory lock); others stand by and take over
 * when its session ends. The process holding it starts each order's sourcing as soon as the event
 * arrives, many at once (one at a time per order), without waiting for the orders read before it,
 * and records as its checkpoint the position below which everything is done. Work never starts
 * more than WINDOW positions past the recorded checkpoint, so what an interrupted process may have
 * left half done lies within that window. The process holding the turn renews a lease while it
 * works and clears it when it stops cleanly. One taking over a lease (the process before died,
 * lost its connection or failed) first waits it out: one that lost its connection stops starting
 * work within TURN_MS, and its last allocations land before anything is re-planned. It then
 * treats the orders within the window as interrupted, releasing what an order holds without a
 * recorded allocation before allocating it again.
 */
export class SourcingProcess {
  private stopping = false;
  private running?: Promise<void>;
  private wakeUp: () => void = () => {};

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
    this.stopping = false;
    this.running = this.run();
  }

  /** Stops taking work, lets what started finish, records the checkpoint and hands the turn on. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp();
    await this.running;
    this.running = undefined;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let conn: TurnConnection | undefined;
      let failed = false;
      try {
        conn = await this.knex.client.acquireConnection() as TurnConnection;
        if (await this.awaitTurn(conn)) await this.lead(conn);
      } catch (err) {
        failed = true;
        if (!this.stopping) this.log.error({ err }, 'sourcing failed; starting again');
      } finally {
        if (conn) await this.handBack(conn);
      }
      if (failed) await this.pause(RETRY_MS);
    }
  }

  /** Stands by until this process holds the turn; false when stopped first. */
  private async awaitTurn(conn: TurnConnection): Promise<boolean> {
    while (!this.stopping) {
      const { rows } = await conn.query('SELECT pg_try_advisory_lock(hashtextextended(current_schema() || $1, 0)) AS ok', [`/sourcing/${this.name}`]);
      if (rows[0].ok) return true;
      await this.pause(TURN_MS);
    }
    return false;
  }

  /** Gives up the turn, or the connection itself when that cannot be done on it. */
  private async handBack(conn: TurnConnection): Promise<void> {
    try {
      await conn.query('SELECT pg_advisory_unlock_all()');
    } catch {
      conn.__knex__disposed ??= 'sourcing turn connection failed';     // the pool destroys it
    }
    await this.knex.client.releaseConnection(conn);
  }

  /** Sources orders while this process holds the turn; returns when stopped, throws on a failure or a lost turn. */
  private async lead(conn: TurnConnection): Promise<void> {
    const name = this.name;
    const checkpoints = () => this.knex('dispatcher_checkpoints').where({ name });
    const row = await checkpoints().first('position', 'lease_until');
    const leaseLeft = row.lease_until ? new Date(row.lease_until).getTime() - Date.now() : 0;
    if (leaseLeft > 0) {
      this.log.info({ waitMs: leaseLeft }, 'sourcing: waiting out the lease of the process that held the turn');
      await this.pause(leaseLeft);
      if (this.stopping) return;
    }
    let recorded = Number(row.position);
    // A lease left behind means the process before did not finish cleanly (it died, lost its
    // connection or failed): what it had started lies within the window past its checkpoint.
    const interruptedUpTo = row.lease_until ? recorded + WINDOW : recorded;
    await checkpoints().update({ lease_until: this.knex.raw(`now() + interval '${LEASE_MS} milliseconds'`) });

    const inFlight: number[] = [];                                   // positions started and not done, in log order
    const done = new Set<number>();
    const started = new Set<Promise<void>>();
    const perOrder = new Map<string, Promise<void>>();
    let seen = recorded;
    let failure: unknown;
    let taking = true;
    let changed: () => void = () => {};
    const change = () => new Promise<void>((resolve) => { changed = resolve; });
    const handledUpTo = () => (inFlight.length > 0 ? inFlight[0] - 1 : seen);

    const begin = (e: RecordedEvent) => {
      const orderId = (e.data as { orderId: string }).orderId;
      const metadata: CommandMetadata = {
        now: (this.options.now?.() ?? new Date()).toISOString(), correlationId: orderId, causationId: e.id, actor: { kind: 'system', id: name },
      };
      inFlight.push(e.position);
      const before = perOrder.get(orderId);
      const work: Promise<void> = (before ?? Promise.resolve())
        .then(() => (e.type === 'OrderPlaced'
          ? this.allocator.allocate(orderId, metadata, { afterCrash: e.position <= interruptedUpTo }).then(() => undefined)
          : this.allocator.releaseOrder(orderId, metadata)))
        .then(() => { done.add(e.position); }, (err) => { failure ??= err; })
        .finally(() => {
          started.delete(work);
          if (perOrder.get(orderId) === work) perOrder.delete(orderId);
          while (inFlight.length > 0 && done.has(inFlight[0])) done.delete(inFlight.shift()!);
          changed();
        });
      started.add(work);
      perOrder.set(orderId, work);
    };

    const subscription = this.store.subscribe({
      after: recorded,
      batchSize: this.options.batchSize ?? 500,
      gatherMs: this.options.gatherMs,
      onEvents: async (events) => {
        for (const e of events) {
          if (isWork(e)) {
            while (taking && !failure && (started.size >= CONCURRENCY || e.position > recorded + WINDOW)) await change();
            if (!taking || failure) return;
            begin(e);
          }
          seen = e.position;
        }
      },
      onError: (err) => { failure ??= err; changed(); },
    });

    let checkedTurnAt = Date.now();
    let renewedAt = Date.now();
    let holding = true;
    try {
      while (!this.stopping && !failure) {
        await this.pause(CHECKPOINT_MS);
        if (Date.now() - checkedTurnAt >= TURN_MS) {
          try {
            await conn.query('SELECT 1');
          } catch (err) {
            holding = false;
            throw err;
          }
          checkedTurnAt = Date.now();
        }
        const upTo = handledUpTo();
        if (upTo > recorded || Date.now() - renewedAt >= LEASE_MS / 3) {
          await checkpoints().update({ position: Math.max(upTo, recorded), updated_at: this.knex.fn.now(), lease_until: this.knex.raw(`now() + interval '${LEASE_MS} milliseconds'`) });
          recorded = Math.max(upTo, recorded);
          renewedAt = Date.now();
          changed();
        }
      }
      if (failure) throw failure;
    } finally {
      taking = false;
      changed();
      await subscription.stop();
      await Promise.allSettled([...started]);
      // Still holding the turn, with everything started now done: record the checkpoint and let the
      // next process start at once; after a failure, with the lease at now, so it knows the work
      // was interrupted (a failed allocation may have reserved part of its plan).
      if (holding) {
        await checkpoints().where('position', '<', handledUpTo()).update({ position: handledUpTo(), updated_at: this.knex.fn.now() })
          .then(() => checkpoints().update({ lease_until: failure ? this.knex.fn.now() : null }))
          .catch((err) => this.log.warn({ err }, 'sourcing: could not record the checkpoint on the way out'));
      }
    }
  }

  /** Sleeps for `ms`, or less when stopping. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping) return resolve();
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => { clearTimeout(timer); resolve(); };
    });
  }
}
