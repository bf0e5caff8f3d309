import {
  ANY, BACKWARDS, END, EventStoreDBClient, NO_STREAM, START, STREAM_EXISTS, StreamNotFoundError, WrongExpectedVersionError,
  excludeSystemEvents, jsonEvent,
  type AllStreamResolvedEvent, type AppendExpectedRevision, type JSONType, type Position, type ReadPosition, type ResolvedEvent,
} from '@eventstore/db-client';
import { ConcurrencyError } from '../../platform/errors.js';
import type {
  AppendResult, EventMetadata, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, RecordedEvent, SubscribeOptions, Subscription,
} from '../event-store.port.js';

// Position mapping: ours = the event's commit position (a byte offset, never 0); resuming sends { commit: p, prepare: p }, 0 = START.

type StreamSubscription = ReturnType<EventStoreDBClient['subscribeToAll']>;

const PAGE = 500;
const DEFAULT_RETRY_MS = 500;

/** EventStoreDB (22.6 or later, whose reads carry log positions) through its gRPC client. */
export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  private readonly client: EventStoreDBClient;
  private readonly subscriptions = new Set<Subscription>();

  constructor(connectionString: string, private readonly settings: { retryDelayMs?: number } = {}) {
    this.client = EventStoreDBClient.connectionString(connectionString);
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    try {
      const result = await this.client.appendToStream(
        streamId,
        events.map((e) => jsonEvent({ id: e.id, type: e.type, data: e.data as JSONType, metadata: e.metadata })),
        { expectedRevision: toExpectedRevision(expected) },
      );
      const revision = Number(result.nextExpectedRevision);
      // Some server versions answer an idempotent retry without a position: read it back.
      const position = result.position ? toNumber(result.position) : (await this.readStream(streamId, { fromRevision: revision, maxCount: 1 }))[0].position;
      return { revision, position };
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) throw new ConcurrencyError(streamId, String(expected), String(err.actualVersion));
      throw err;
    }
  }

  async readStream(streamId: string, options: { fromRevision?: number; maxCount?: number } = {}): Promise<RecordedEvent[]> {
    const { fromRevision = 0, maxCount = Number.MAX_SAFE_INTEGER } = options;
    try {
      const read = this.client.readStream(streamId, { fromRevision: fromRevision === 0 ? START : BigInt(fromRevision), maxCount });
      return (await collect(read)).flatMap(toRecorded);
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw err;
    }
  }

  async readAll({ after = 0, maxCount = 1000 }: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    let cursor = after;
    while (out.length < maxCount) {
      // A forward read from a position includes the event there, hence the one extra.
      const pageSize = Math.min(maxCount - out.length, PAGE) + 1;
      const page = (await collect(this.client.readAll({ fromPosition: toReadPosition(cursor), maxCount: pageSize }))).flatMap(toRecorded);
      for (const event of page) {
        if (event.position <= cursor) continue;
        cursor = event.position;
        if (!isSystem(event)) out.push(event);
        if (out.length === maxCount) break;
      }
      if (page.length < pageSize) break;
    }
    return out;
  }

  async headPosition(): Promise<number> {
    let from: ReadPosition = END;
    for (;;) {
      const page = (await collect(this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: PAGE }))).flatMap(toRecorded);
      const last = page.find((e) => !isSystem(e));
      if (last) return last.position;
      if (page.length < PAGE) return 0;
      from = toReadPosition(page[page.length - 1].position);
    }
  }

  subscribe(options: SubscribeOptions): Subscription {
    const batchSize = options.batchSize ?? 500;
    let after = options.after ?? 0;
    let stopped = false;
    let interrupt = (): void => undefined;
    const pause = (ms: number) => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      interrupt = () => { clearTimeout(timer); resolve(); };
    });

    // Takes what the client has buffered (up to batchSize) and hands it over, reading no more until the
    // handler resolves: unread events stay in gRPC flow control. Returns only when stopped.
    const deliver = async (sub: StreamSubscription) => {
      let failure: unknown;
      let ended = false;
      let signalled = false;
      let resume = (): void => undefined;
      const notify = () => { signalled = true; resume(); };
      sub.on('readable', notify);
      sub.on('error', (err) => { failure = err; notify(); });
      sub.on('end', () => { ended = true; notify(); });
      while (!stopped) {
        signalled = false;
        const batch: RecordedEvent[] = [];
        for (let item: AllStreamResolvedEvent | null; batch.length < batchSize && (item = sub.read()) !== null;) {
          for (const event of toRecorded(item)) if (!isSystem(event) && event.position > after) batch.push(event);
        }
        if (batch.length > 0) {
          await options.onEvents(batch);
          after = batch[batch.length - 1].position;
          if (batch.length < batchSize && options.gatherMs) await pause(options.gatherMs);
          continue;
        }
        if (failure) throw failure;
        if (ended) throw new Error('EventStoreDB ended the subscription');
        if (!signalled) await new Promise<void>((resolve) => { resume = resolve; interrupt = resolve; });
      }
    };

    const loop = (async () => {
      while (!stopped) {
        let sub: StreamSubscription | undefined;
        try {
          sub = this.client.subscribeToAll({ fromPosition: toReadPosition(after), filter: excludeSystemEvents() });
          await deliver(sub);
        } catch (err) {
          if (!stopped) options.onError?.(err);
        }
        await sub?.unsubscribe().catch(() => undefined);
        if (!stopped) await pause(this.settings.retryDelayMs ?? DEFAULT_RETRY_MS);
      }
    })();

    const subscription: Subscription = {
      stop: async () => {
        stopped = true;
        interrupt();
        await loop;
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async ping(): Promise<void> {
    await collect(this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.client.dispose();
  }
}

function toExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any': return ANY;
    case 'no_stream': return NO_STREAM;
    case 'stream_exists': return STREAM_EXISTS;
    default: return BigInt(expected);
  }
}

function toReadPosition(position: number): ReadPosition {
  return position > 0 ? { commit: BigInt(position), prepare: BigInt(position) } : START;
}

function toNumber(position: Position): number {
  if (position.commit > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`EventStoreDB gave no usable log position (${position.commit})`);
  return Number(position.commit);
}

function toRecorded(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent[] {
  const e = resolved.event;
  if (!e) return [];
  if (!e.position) throw new Error(`EventStoreDB gave no log position for ${e.streamId}@${e.revision}; it needs to be 22.6 or later`);
  return [{
    id: e.id, type: e.type, data: e.data, metadata: (e.metadata ?? {}) as EventMetadata,
    streamId: e.streamId, revision: Number(e.revision), position: toNumber(e.position), recordedAt: e.created,
  }];
}

function isSystem(event: RecordedEvent): boolean {
  return event.type.startsWith('$') || event.streamId.startsWith('$');
}

async function collect<T>(read: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of read) out.push(item);
  return out;
}
