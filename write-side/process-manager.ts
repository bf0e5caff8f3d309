import type { Knex } from 'knex';
import type { EventStore, RecordedEvent } from '../event-store/event-store.port.js';
import type { Logger } from '../platform/logger.js';
import { toDomain, type Recorded } from './to-domain.js';

/** What a process manager does with the events it handles; the runner decides when. */
export interface ProcessManager {
  /** Names its checkpoint row in dispatcher_checkpoints. */
  name: string;
  handles: readonly string[];
  /** Reactions to events with the same key run one at a time, in log order. */
  keyOf(event: Recorded): string;
  /**
   * `afterCrash`: the event lies in the window an interrupted turn may have left half done, so
   * the reaction may meet its own earlier, partial effects. Once `signal` is aborted the turn is
   * no longer safely held: write nothing more. A reaction that throws ends the turn; the next
   * one starts again from the checkpoint.
   */
  react(event: Recorded, context: { afterCrash: boolean; signal: AbortSignal }): Promise<void>;
}

export interface ProcessManagerOptions {
  batchSize?: number;
  gatherMs?: number;
  /** How long a lease lasts. Work stops starting once it has not been renewed for half of it, and in-flight work stops writing at 60%. */
  leaseMs?: number;
  /** Reactions running at once (256). */
  concurrency?: number;
  /** How many events past the recorded checkpoint work may start at (10,000); after a takeover, those get `afterCrash`. */
  window?: number;
  /** The advisory lock the turn is; `/process/<name>` unless it must be what an earlier version took. */
  turnKey?: string;
}

const CONCURRENCY = 256;
const WINDOW = 10_000;
/** How often the checkpoint is recorded while work goes on; the lease is renewed with it, or at least every leaseMs / 5. */
const CHECKPOINT_MS = 100;
/** How often a standby asks for the turn. */
const STANDBY_MS = 500;
const DEFAULT_LEASE_MS = 5000;
/** The pause after a failure, doubled after each one in a row up to MAX_RETRY_MS; back to RETRY_MS once the database answers. */
const RETRY_MS = 500;
const MAX_RETRY_MS = 5000;

/**
 * The turn's own session: synchronous commits (the checkpoint and lease must survive a crash), a
 * bound on every statement, and TCP keepalives, so the server ends a session whose process
 * vanished without a word (and with it the turn) within seconds.
 */
const TURN_SESSION = `SET synchronous_commit = on; SET statement_timeout = '5s';
  SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3`;
const TURN_SESSION_RESET = 'RESET statement_timeout; RESET tcp_keepalives_idle; RESET tcp_keepalives_interval; RESET tcp_keepalives_count;';

/**
 * The raw connection the turn is held on: a pg client from the knex pool. Knex gives each client
 * it creates listeners for 'error' and 'end' that mark it `__knex__disposed`, so a session that
 * is terminated or loses the server never raises an unhandled 'error'; its queries fail, and the
 * pool destroys it instead of lending it again.
 */
interface TurnConnection { query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>; __knex__disposed?: unknown }

/**
 * Runs a process manager on the log.
 *
 * One process at a time holds the turn (a session advisory lock); others stand by and take over
 * when its session ends. The process holding it starts each reaction as soon as the event
 * arrives, many at once (one at a time per key), without waiting for the events read before it,
 * and records as its checkpoint the position below which everything is done. Work never starts
 * more than `window` events past the recorded checkpoint, so what an interrupted process may have
 * left half done lies within the first `window` events after it.
 *
 * The checkpoint and a lease are written on the turn's own session, so a process that lost its
 * session cannot renew: it stops starting work when its lease is half spent and stops writing
 * soon after. A clean stop clears the lease. A process that takes over a lease (the one before
 * died, lost its session or failed) waits until it has run out, then reacts to the events in the
 * window with `afterCrash`.
 */
export class ProcessManagerRunner {
  private stopping = false;
  private running?: Promise<void>;
  private wakeUp: () => void = () => {};
  private retryMs = RETRY_MS;
  private readonly handles: Set<string>;

  constructor(
    private readonly store: EventStore,
    private readonly knex: Knex,
    private readonly processManager: ProcessManager,
    private readonly log: Logger,
    private readonly options: ProcessManagerOptions = {},
  ) {
    this.handles = new Set(processManager.handles);
  }

  get name(): string { return this.processManager.name; }
  private get leaseMs(): number { return this.options.leaseMs ?? DEFAULT_LEASE_MS; }

  async start(): Promise<void> {
    if (this.running) return;
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

  /** Takes the turn and leads, again and again until stopped; a failure (the database away, say) is retried after a growing pause. */
  private async run(): Promise<void> {
    while (!this.stopping) {
      let conn: TurnConnection | undefined;
      let failed = false;
      let restore = '';
      try {
        conn = await this.knex.client.acquireConnection() as TurnConnection;
        if (await this.awaitTurn(conn)) {
          const { rows: [{ synchronous_commit: pooled }] } = await conn.query('SHOW synchronous_commit');
          restore = `SET synchronous_commit = ${pooled === 'off' ? 'off' : 'on'}; ${TURN_SESSION_RESET}`;
          await conn.query(TURN_SESSION);
          await this.lead(conn);
        }
      } catch (err) {
        failed = true;
        if (!this.stopping) this.log.error({ err, retryMs: this.retryMs }, `${this.name} failed; starting again`);
      } finally {
        if (conn) await this.handBack(conn, restore);
      }
      if (failed) {
        await this.pause(this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      }
    }
  }

  /** Stands by until this process holds the turn; false when stopped first. */
  private async awaitTurn(conn: TurnConnection): Promise<boolean> {
    const key = this.options.turnKey ?? `/process/${this.name}`;
    while (!this.stopping) {
      const { rows } = await conn.query('SELECT pg_try_advisory_lock(hashtextextended(current_schema() || $1, 0)) AS ok', [key]);
      this.retryMs = RETRY_MS;                                       // the database answers
      if (rows[0].ok) return true;
      await this.pause(STANDBY_MS);
    }
    return false;
  }

  /** Gives up the turn and puts the session back as the pool had it, or has the pool close it if that fails. */
  private async handBack(conn: TurnConnection, restore: string): Promise<void> {
    try {
      await conn.query(`${restore} SELECT pg_advisory_unlock_all()`);
    } catch {
      conn.__knex__disposed ??= `${this.name} turn session failed`;
    }
    try {
      await this.knex.client.releaseConnection(conn);
    } catch (err) {
      this.log.warn({ err }, `${this.name}: could not hand the turn session back to the pool`);
    }
  }

  /** Reacts to events while this process holds the turn; returns when stopped, throws on a failure or a lost turn. */
  private async lead(conn: TurnConnection): Promise<void> {
    const name = this.name;
    // The lease is measured by the database's clock, and looked at again after waiting.
    let row: Record<string, unknown>;
    for (;;) {
      ({ rows: [row] } = await conn.query(`SELECT position, lease_until IS NOT NULL AS interrupted,
        greatest(0, ceil(extract(epoch FROM lease_until - now()) * 1000))::int AS wait_ms FROM dispatcher_checkpoints WHERE name = $1`, [name]));
      if (Number(row.wait_ms) <= 0 || this.stopping) break;
      this.log.info({ waitMs: row.wait_ms }, `${name}: waiting out the lease of the process that held the turn`);
      await this.pause(Number(row.wait_ms));
    }
    if (this.stopping) return;
    const interrupted = row.interrupted === true;
    const { concurrency = CONCURRENCY, window = WINDOW } = this.options;
    const renew = async (position: number) => {
      const { rows: [r] } = await conn.query(`UPDATE dispatcher_checkpoints SET position = greatest(position, $2), updated_at = now(),
        lease_until = now() + $3 * interval '1 millisecond' WHERE name = $1 RETURNING position`, [name, position, this.leaseMs]);
      return Number(r.position);
    };
    const progress = new Progress(await renew(Number(row.position)));
    let renewedAt = Date.now();
    const stale = new AbortController();
    let failure: unknown;
    let delivered = 0;                                                // events delivered since the checkpoint this turn started at
    // Once halted, a turn takes in nothing more: the next one starts again from the checkpoint.
    let halt = false;
    const halted = () => (halt ||= this.stopping || failure !== undefined || Date.now() - renewedAt > this.leaseMs / 2);

    const subscription = this.store.subscribe({
      after: progress.recorded,
      batchSize: this.options.batchSize ?? 500,
      gatherMs: this.options.gatherMs,
      onEvents: async (events) => {
        for (const e of events.map((r) => toDomain(r))) {
          if (halted()) return;                                      // nothing after this is taken in, nor counted as seen
          delivered++;
          if (this.handles.has(e.type)) {
            while (!halted() && (progress.started >= concurrency || progress.ahead >= window)) await progress.change();
            if (halted()) return;
            const afterCrash = interrupted && delivered <= window;
            progress.begin(e.position, this.processManager.keyOf(e),
              () => this.processManager.react(e, { afterCrash, signal: stale.signal }), (err) => { failure ??= err; });
          }
          progress.saw(e.position);
        }
      },
      onError: (err) => { failure ??= err; progress.changed(); },
    });

    // Work started stops writing at 60% of a lease not renewed, also while a renewal hangs.
    const abort = setInterval(() => { if (Date.now() - renewedAt > this.leaseMs * 0.6) stale.abort(); }, 50);
    try {
      while (!halted()) {
        await this.pause(CHECKPOINT_MS);
        const upTo = progress.handledUpTo();
        if (upTo > progress.recorded || Date.now() - renewedAt >= this.leaseMs / 5) {
          progress.record(await renew(upTo));
          renewedAt = Date.now();
        }
      }
      if (!this.stopping) failure ??= new Error(`${name}: the lease was not renewed in time`);
    } finally {
      progress.changed();
      await subscription.stop();
      await progress.settled();
      clearInterval(abort);
      // Everything started has ended: record what is done, and clear the lease when all of it
      // succeeded, or let it run out now (a failed reaction may have done part of its work).
      const clean = failure === undefined && !stale.signal.aborted;
      await conn.query(`UPDATE dispatcher_checkpoints SET position = greatest(position, $2), updated_at = now(),
        lease_until = CASE WHEN $3 THEN NULL ELSE now() END WHERE name = $1`, [name, progress.handledUpTo(), clean])
        .catch((err) => this.log.warn({ err }, `${name}: could not record the checkpoint on the way out`));
    }
    if (failure !== undefined) throw failure;
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

/** What a turn has started, finished and recorded, in log order. */
class Progress {
  /** Positions of work started and not done, in log order. */
  private readonly inFlight: number[] = [];
  private readonly done = new Set<number>();
  private readonly running = new Set<Promise<void>>();
  private readonly perKey = new Map<string, Promise<void>>();
  /** Keys whose work failed in this turn. */
  private readonly failedKeys = new Set<string>();
  /** Positions seen, in log order; those from `firstAhead` on are past the recorded checkpoint. */
  private seen: number[] = [];
  private firstAhead = 0;
  private last: number;
  private wake: () => void = () => {};

  constructor(public recorded: number) { this.last = recorded; }

  get started(): number { return this.running.size; }
  /** Events seen past the recorded checkpoint. */
  get ahead(): number { return this.seen.length - this.firstAhead; }

  /** The position below which everything seen is done. */
  handledUpTo(): number { return this.inFlight.length > 0 ? this.inFlight[0] - 1 : this.last; }

  saw(position: number): void {
    this.seen.push(position);
    this.last = position;
  }

  record(position: number): void {
    this.recorded = position;
    while (this.firstAhead < this.seen.length && this.seen[this.firstAhead] <= position) this.firstAhead++;
    if (this.firstAhead > 4096) {
      this.seen = this.seen.slice(this.firstAhead);
      this.firstAhead = 0;
    }
    this.changed();
  }

  /**
   * Runs `work` after the key's earlier work; a failure is reported and leaves the position undone.
   * Once work of a key has failed, the key's later work in this turn does not run at all (it would
   * act on what the failed reaction left undone); the next turn replays them in order.
   */
  begin(position: number, key: string, work: () => Promise<void>, failed: (err: unknown) => void): void {
    this.inFlight.push(position);
    const running: Promise<void> = (this.perKey.get(key) ?? Promise.resolve())
      .then(async () => {
        if (this.failedKeys.has(key)) return;
        try {
          await work();
          this.done.add(position);
        } catch (err) {
          this.failedKeys.add(key);
          failed(err);
        }
      })
      .finally(() => {
        this.running.delete(running);
        if (this.perKey.get(key) === running) this.perKey.delete(key);
        while (this.inFlight.length > 0 && this.done.has(this.inFlight[0])) this.done.delete(this.inFlight.shift()!);
        this.changed();
      });
    this.running.add(running);
    this.perKey.set(key, running);
  }

  /** Resolves at the next change: work done, the checkpoint recorded, or a halt. */
  change(): Promise<void> { return new Promise((resolve) => { this.wake = resolve; }); }
  changed(): void { this.wake(); }

  async settled(): Promise<void> { await Promise.allSettled([...this.running]); }
}
