import type {
  AppendResult, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, RecordedEvent, SubscribeOptions, Subscription,
} from '../../event-store/event-store.port.js';
import { pollingSubscription, type NewsSource } from '../../event-store/subscription.js';
import { ConcurrencyError, ConflictError, ValidationError } from '../../platform/errors.js';

/**
 * The event store port in memory, for tests of what runs on the write side without a database
 * (job processors with fake dependencies). It passes the contract suite the real adapters pass
 * (test/event-store/memory-event-store.test.ts) and follows the PostgreSQL adapter where the
 * contract leaves room: an append answers on a later turn of the event loop, event ids are
 * checked for a replay only when the revision check fails (or cannot), an id used in another
 * stream is refused with `event.duplicate_id`, and events are kept as JSON copies.
 */
export class MemoryEventStore implements EventStore {
  /** The port names the real adapters only; this one stands in for the PostgreSQL one. */
  readonly kind: EventStore['kind'] = 'postgres';
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly streamOfEvent = new Map<string, string>();
  private readonly news = new MemoryNews();
  private closed = false;

  async append(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    await new Promise((resolve) => setImmediate(resolve));            // the round trip
    this.open();
    const stream = this.streams.get(streamId) ?? [];
    const current = stream.length - 1;
    const holds = expected === 'any' || (expected === 'stream_exists' ? current !== -1 : expected === 'no_stream' ? current === -1 : expected === current);
    const replay = () => {
      if (!events.every((e) => this.streamOfEvent.get(e.id) === streamId)) return undefined;
      const mine = stream.filter((r) => events.some((e) => e.id === r.id));
      return { revision: Math.max(...mine.map((r) => r.revision)), position: Math.max(...mine.map((r) => r.position)) };
    };
    if (!holds || expected === 'any' || expected === 'stream_exists') {
      const replayed = replay();
      if (replayed) return replayed;
      if (!holds) throw new ConcurrencyError(streamId, String(expected), current === -1 ? 'no_stream' : String(current));
    }
    if (events.some((e) => this.streamOfEvent.has(e.id)) || new Set(events.map((e) => e.id)).size < events.length) {
      const replayed = replay();
      if (replayed) return replayed;
      throw new ConflictError('event.duplicate_id', `Event ids appended to ${streamId} are already used in another stream`);
    }
    const recordedAt = new Date();
    const recorded = events.map((e, i): RecordedEvent => ({
      id: e.id, type: e.type, data: asStored(e.data), metadata: asStored(e.metadata),
      streamId, revision: current + 1 + i, position: this.log.length + 1 + i, recordedAt,
    }));
    this.log.push(...recorded);
    this.streams.set(streamId, [...stream, ...recorded]);
    for (const r of recorded) this.streamOfEvent.set(r.id, streamId);
    this.news.bump();
    const last = recorded[recorded.length - 1];
    return { revision: last.revision, position: last.position };
  }

  async readStream(streamId: string, options: { fromRevision?: number; maxCount?: number } = {}): Promise<RecordedEvent[]> {
    this.open();
    const from = options.fromRevision ?? 0;
    return (this.streams.get(streamId) ?? []).slice(from, from + (options.maxCount ?? 1_000_000)).map(copy);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.open();
    const after = options.after ?? 0;                                  // positions are 1, 2, 3 ... : log[p - 1]
    return this.log.slice(after, after + (options.maxCount ?? 1000)).map(copy);
  }

  async headPosition(): Promise<number> {
    this.open();
    return this.log.length;
  }

  subscribe(options: SubscribeOptions): Subscription {
    return pollingSubscription({ read: (after, maxCount) => this.readAll({ after, maxCount }), news: this.news, options });
  }

  async ping(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.news.close();
  }

  private open(): void {
    if (this.closed) throw new Error('the memory event store is closed');
  }
}

/** News of every append, at once. */
class MemoryNews implements NewsSource {
  private seq = 0;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  async ready(): Promise<void> {}

  version(): number { return this.seq; }

  async waitForNews(since: number): Promise<void> {
    if (this.closed || this.seq !== since) return;
    await new Promise<void>((resolve) => this.waiters.add(resolve));
  }

  bump(): void {
    this.seq++;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  close(): void {
    this.closed = true;
    this.bump();
  }
}

/** What a jsonb column would keep of a value; a value JSON cannot hold is refused, as the database refuses it. */
function asStored<T>(value: T): T {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  if (json === undefined) throw new ValidationError('event.unstorable', 'The event data cannot be stored');
  return JSON.parse(json) as T;
}

const copy = (r: RecordedEvent): RecordedEvent => ({ ...r, data: structuredClone(r.data), metadata: structuredClone(r.metadata), recordedAt: new Date(r.recordedAt) });
