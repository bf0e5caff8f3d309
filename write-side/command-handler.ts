import { randomUUID } from 'node:crypto';
import type { EventStore, ExpectedRevision, NewEvent } from '../event-store/event-store.port.js';
import { ConcurrencyError } from '../platform/errors.js';
import { idFor, type Command, type Decider, type DomainEvent } from './decider.js';
import { toDomain, type ToDomain } from './to-domain.js';

export interface HandleResult<State, E extends DomainEvent> {
  state: State;
  /** Events this command appended; empty when its outcome already held. */
  events: E[];
  /** Revision of this command's last event, or of the stream's last one before it when it appended nothing; -1 for none. */
  revision: number;
  /**
   * Global position of the last event of the append that carried this command's events (later
   * commands of its group may be in it too), or of the stream's latest when it appended nothing.
   * A read model that has reached it has taken in this command's events.
   */
  position: number | null;
}

/** A stream's folded state; `seenAt` is when it was last known to be current (the handler's clock, in ms). */
interface Cached<State> { state: State; revision: number; position: number | null; seenAt: number }

interface Queued<State, C, E extends DomainEvent> {
  command: C;
  options: { assumeNew?: boolean };
  resolve(r: HandleResult<State, E>): void;
  reject(err: unknown): void;
}

/** The most commands on one stream decided together and appended as one. */
const MAX_GROUP = 100;

/**
 * Runs commands against one kind of aggregate: decide, then append with the revision the decision
 * was made on; on a concurrency conflict re-read and decide again, a bounded number of times.
 * Folded state is cached per stream. A decision that appends is made on the cached state
 * directly, since the expected-revision check refuses it if the stream has moved on; a decision
 * that appends nothing or refuses is only trusted on state just read from the store.
 *
 * Commands on one stream in this process take turns, in the order they came. Those that queued
 * up while the stream's last append was on its way are decided one after the other on the
 * evolving state and appended together: a hot stream (a SKU everyone is buying) costs one append
 * per round trip, not one per command. Each command still gets its own outcome.
 */
export class CommandHandler<State, C extends Command, E extends DomainEvent> {
  private readonly cache = new Map<string, Cached<State>>();
  /** Commands waiting for their stream's turn; a stream is in this map while its turn runs. */
  private readonly queued = new Map<string, Queued<State, C, E>[]>();
  private readonly reading = new Map<string, Promise<Cached<State>>>();

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<State, C, E>,
    private readonly options: { retries?: number; cacheSize?: number; now?: () => number; toDomain?: ToDomain } = {},
  ) {}

  /**
   * The stream's state: read up to date; or as last seen here, if it was (`cachedOk`), or if it
   * was known to be current at most `maxAgeMs` ago.
   */
  async load(streamId: string, options: { cachedOk?: boolean; maxAgeMs?: number } = {}): Promise<Cached<State>> {
    const { cachedOk, maxAgeMs } = options;
    const hit = this.cache.get(streamId);
    if (hit && (cachedOk || (maxAgeMs !== undefined && this.now() - hit.seenAt <= maxAgeMs))) return hit;
    if (!cachedOk && maxAgeMs === undefined) return this.read(streamId, hit);
    // Callers that accept a recent state share one read.
    let reading = this.reading.get(streamId);
    if (!reading) {
      reading = this.read(streamId, hit).finally(() => this.reading.delete(streamId));
      this.reading.set(streamId, reading);
    }
    return reading;
  }

  private async read(streamId: string, hit: Cached<State> | undefined): Promise<Cached<State>> {
    const cached = hit ?? this.empty();
    const readAt = this.now();
    const newer = await this.store.readStream(streamId, { fromRevision: cached.revision + 1 });
    // What this process appended, or read, while the read was on its way may be newer: keep it.
    const current = this.cache.get(streamId);
    if (current && current !== hit && current.revision >= cached.revision + newer.length) return current;
    if (newer.length === 0) {
      if (hit && current === hit) hit.seenAt = Math.max(hit.seenAt, readAt);
      return cached;
    }
    const domain = this.options.toDomain ?? toDomain;
    const loaded = {
      seenAt: readAt,
      state: newer.reduce((s, e) => this.decider.evolve(s, domain<E>(e)), cached.state),
      revision: newer[newer.length - 1].revision,
      position: newer[newer.length - 1].position,
    };
    this.remember(streamId, loaded);
    return loaded;
  }

  /**
   * `assumeNew` skips the first read for commands that usually create their stream. Other
   * processes are held off by the expected revision.
   */
  handle(streamId: string, command: C, options: { assumeNew?: boolean } = {}): Promise<HandleResult<State, E>> {
    return new Promise((resolve, reject) => {
      const item = { command, options, resolve, reject };
      const waiting = this.queued.get(streamId);
      if (waiting) {
        waiting.push(item);
        return;
      }
      this.queued.set(streamId, [item]);
      // Let the commands issued in this same tick join the first group.
      queueMicrotask(() => void this.takeTurns(streamId));
    });
  }

  private async takeTurns(streamId: string): Promise<void> {
    const waiting = this.queued.get(streamId)!;
    while (waiting.length > 0) {
      const group = waiting.splice(0, groupSize(waiting));
      await this.decideAndAppend(streamId, group).catch((err) => { for (const g of group) g.reject(err); });
    }
    this.queued.delete(streamId);
  }

  /** Decides the group in order on the stream's state and appends what it decided; settles every command. */
  private async decideAndAppend(streamId: string, group: Queued<State, C, E>[]): Promise<void> {
    const retries = this.options.retries ?? 10;
    for (let attempt = 0; ; attempt++) {
      const cached = attempt === 0 ? this.cache.get(streamId) : undefined;
      const unverified = attempt === 0 && (cached !== undefined || group[0].options.assumeNew === true);
      let current: Cached<State>;
      try {
        current = !unverified ? await this.load(streamId) : cached ?? this.empty();
      } catch (err) {
        for (const g of group) g.reject(err);
        return;
      }
      const decided = this.decideGroup(streamId, group, current.state, unverified);
      if (!decided) continue;                                         // refused or a no-op on possibly stale state: read and decide again
      const events = decided.flatMap((d) => d.events);
      if (events.length === 0) {
        for (const d of decided) d.settle(current.revision, current.position);
        return;
      }
      const expected: ExpectedRevision = current.revision === -1 ? 'no_stream' : current.revision;
      try {
        const result = await this.store.append(streamId, events, expected);
        this.remember(streamId, { state: decided[decided.length - 1].state, revision: result.revision, position: result.position, seenAt: this.now() });
        // Each command's revision is its own last event's; every position is the append's last, which covers them all.
        let revision = current.revision;
        for (const d of decided) {
          revision += d.events.length;
          d.settle(revision, revision === current.revision ? current.position : result.position);
        }
        return;
      } catch (err) {
        if (!(err instanceof ConcurrencyError) && group.length > 1) {
          // One command's events spoil the append (an id already used, data the store refuses):
          // each goes alone, so only that one fails.
          for (const g of group) await this.decideAndAppend(streamId, [g]);
          return;
        }
        if (!(err instanceof ConcurrencyError) || attempt >= retries) {
          for (const g of group) g.reject(err);
          return;
        }
        if (attempt > 1) await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
    }
  }

  /**
   * Each command decided on the state its predecessors in the group left. A command refused on
   * state just read is refused alone; on state that may be stale, or one that changes nothing
   * there, the whole group is decided again on a fresh read (undefined).
   */
  private decideGroup(streamId: string, group: Queued<State, C, E>[], initial: State, unverified: boolean) {
    const decided: { state: State; events: NewEvent[]; settle(revision: number, position: number | null): void }[] = [];
    let state = initial;
    for (const g of group) {
      let events: E[];
      try {
        events = this.decider.decide(g.command, state);
      } catch (err) {
        if (unverified) return undefined;
        decided.push({ state, events: [], settle: () => g.reject(err) });
        continue;
      }
      if (events.length === 0 && unverified) return undefined;
      state = events.reduce(this.decider.evolve, state);
      const { metadata } = g.command;
      const { now: _now, idempotencySeed: _seed, ...eventMetadata } = metadata;
      const after = state;
      decided.push({
        state,
        events: events.map((e, i) => ({ id: idFor(metadata, `${streamId}\u0000${g.command.type}\u0000${i}`, randomUUID), type: e.type, data: e.data, metadata: eventMetadata })),
        settle: (revision, position) => g.resolve({ state: after, events, revision, position }),
      });
    }
    return decided;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private empty(): Cached<State> {
    return { state: this.decider.initialState, revision: -1, position: null, seenAt: 0 };
  }

  private remember(streamId: string, value: Cached<State>): void {
    const max = this.options.cacheSize ?? 10_000;
    this.cache.delete(streamId);
    this.cache.set(streamId, value);
    if (this.cache.size > max) this.cache.delete(this.cache.keys().next().value as string);
  }
}

/**
 * How many of the waiting commands go together: a run of commands without an idempotency seed. A
 * seeded command (a client's keyed retry may replay it) goes alone, so a replay is recognised as
 * one and two seeded commands never share an append.
 */
function groupSize(waiting: Queued<unknown, Command, DomainEvent>[]): number {
  if (waiting[0].command.metadata.idempotencySeed) return 1;
  const seeded = waiting.findIndex((g) => g.command.metadata.idempotencySeed);
  return Math.min(MAX_GROUP, seeded === -1 ? waiting.length : seeded);
}
