import { randomUUID } from 'node:crypto';
import type { EventStore, ExpectedRevision, RecordedEvent } from '../event-store/event-store.port.js';
import { ConcurrencyError } from '../platform/errors.js';
import { idFor, type Command, type Decider, type DomainEvent } from './decider.js';

export interface HandleResult<State, E extends DomainEvent> {
  state: State;
  /** Events this command appended; empty when its outcome already held. */
  events: E[];
  /** Revision of the stream's last event, -1 when it has none. */
  revision: number;
  /** Global position of the stream's last event (the one appended, or the latest before). */
  position: number | null;
}

interface Cached<State> { state: State; revision: number; position: number | null }

/**
 * Runs commands against one kind of aggregate: decide, then append with the revision the decision
 * was made on; on a concurrency conflict re-read and decide again, a bounded number of times.
 * Folded state is cached per stream. A decision that appends is made on the cached state
 * directly, since the expected-revision check refuses it if the stream has moved on; a decision
 * that appends nothing or refuses is only trusted on state just read from the store.
 */
export class CommandHandler<State, C extends Command, E extends DomainEvent> {
  private readonly cache = new Map<string, Cached<State>>();
  /** The last command queued per stream: commands on one stream in this process take turns. */
  private readonly turns = new Map<string, Promise<unknown>>();
  private readonly reading = new Map<string, Promise<Cached<State>>>();

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<State, C, E>,
    private readonly options: { retries?: number; cacheSize?: number } = {},
  ) {}

  /** The stream's state: read up to date, or (`cachedOk`) as last seen here, if it was. */
  async load(streamId: string, options: { cachedOk?: boolean } = {}): Promise<Cached<State>> {
    const hit = this.cache.get(streamId);
    if (hit && options.cachedOk) return hit;
    if (!options.cachedOk) return this.read(streamId, hit);
    // Not seen yet: callers that accept any recent state share one read.
    let reading = this.reading.get(streamId);
    if (!reading) {
      reading = this.read(streamId, hit).finally(() => this.reading.delete(streamId));
      this.reading.set(streamId, reading);
    }
    return reading;
  }

  private async read(streamId: string, hit: Cached<State> | undefined): Promise<Cached<State>> {
    const cached = hit ?? { state: this.decider.initialState, revision: -1, position: null };
    const newer = await this.store.readStream(streamId, { fromRevision: cached.revision + 1 });
    if (newer.length === 0) return cached;
    const loaded = {
      state: newer.reduce((s, e) => this.decider.evolve(s, asDomain<E>(e)), cached.state),
      revision: newer[newer.length - 1].revision,
      position: newer[newer.length - 1].position,
    };
    this.remember(streamId, loaded);
    return loaded;
  }

  /**
   * `assumeNew` skips the first read for commands that usually create their stream. Commands on
   * the same stream take turns within this process, so they decide on each other's results
   * instead of colliding; other processes are still held off by the expected revision.
   */
  handle(streamId: string, command: C, options: { assumeNew?: boolean } = {}): Promise<HandleResult<State, E>> {
    const before = this.turns.get(streamId);
    const mine = (before ? before.then(() => undefined, () => undefined) : Promise.resolve()).then(() => this.decideAndAppend(streamId, command, options));
    const settled = mine.then(() => undefined, () => undefined);
    this.turns.set(streamId, settled);
    void settled.then(() => { if (this.turns.get(streamId) === settled) this.turns.delete(streamId); });
    return mine;
  }

  private async decideAndAppend(streamId: string, command: C, options: { assumeNew?: boolean }): Promise<HandleResult<State, E>> {
    const retries = this.options.retries ?? 10;
    for (let attempt = 0; ; attempt++) {
      const cached = attempt === 0 ? this.cache.get(streamId) : undefined;
      const unverified = attempt === 0 && (cached !== undefined || options.assumeNew === true);
      const current = !unverified ? await this.load(streamId)
        : cached ?? { state: this.decider.initialState, revision: -1, position: null };
      let events: E[];
      try {
        events = this.decider.decide(command, current.state);
      } catch (err) {
        if (unverified) continue;                                     // refused on possibly stale state: read and retry
        throw err;
      }
      if (events.length === 0) {
        if (unverified) continue;
        return { ...current, events };
      }
      const expected: ExpectedRevision = current.revision === -1 ? 'no_stream' : current.revision;
      const { metadata } = command;
      const { now: _now, idempotencySeed: _seed, ...eventMetadata } = metadata;
      try {
        const result = await this.store.append(
          streamId,
          events.map((e, i) => ({ id: idFor(metadata, `${streamId}\u0000${command.type}\u0000${i}`, randomUUID), type: e.type, data: e.data, metadata: eventMetadata })),
          expected,
        );
        const state = events.reduce(this.decider.evolve, current.state);
        this.remember(streamId, { state, revision: result.revision, position: result.position });
        return { state, events, revision: result.revision, position: result.position };
      } catch (err) {
        if (!(err instanceof ConcurrencyError) || attempt >= retries) throw err;
        if (attempt > 1) await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
    }
  }

  private remember(streamId: string, value: Cached<State>): void {
    const max = this.options.cacheSize ?? 10_000;
    this.cache.delete(streamId);
    this.cache.set(streamId, value);
    if (this.cache.size > max) this.cache.delete(this.cache.keys().next().value as string);
  }
}

function asDomain<E extends DomainEvent>(e: RecordedEvent): E {
  return { type: e.type, data: e.data } as E;
}
