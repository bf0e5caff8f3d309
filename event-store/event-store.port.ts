// The event store port. Every adapter (PostgreSQL, EventStoreDB) passes the same contract suite
// in test/event-store/event-store.contract.ts.

export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  /** Who issued the command: an API role or a job. */
  actor?: { kind: 'api' | 'job' | 'system'; id?: string; role?: string };
  requestId?: string;
  [key: string]: unknown;
}

/** An event about to be appended. `id` is a UUID chosen by the writer; appending it again is a no-op. */
export interface NewEvent<Type extends string = string, Data = unknown> {
  id: string;
  type: Type;
  data: Data;
  metadata: EventMetadata;
}

export interface RecordedEvent<Type extends string = string, Data = unknown> extends NewEvent<Type, Data> {
  streamId: string;
  /** 0-based revision of the event inside its stream. */
  revision: number;
  /** Position in the global log; strictly increasing in the order readers see events. */
  position: number;
  recordedAt: Date;
}

/** `no_stream`: the stream must not exist; `stream_exists`: it must; a number: the revision of its last event. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  revision: number;
  /** Global position of the last event appended (or of the replayed one on an idempotent retry). */
  position: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Omit to read from the start. */
  after?: number;
  maxCount?: number;
}

export interface SubscribeOptions {
  /** Exclusive, like EventStoreDB's `fromPosition`: delivery starts after this position. */
  after?: number;
  batchSize?: number;
  /**
   * After a batch smaller than batchSize, wait this long for more events before delivering the
   * next: fewer, larger batches for handlers whose cost is per batch (a transaction, a round
   * trip), at the price of that much delay. 0 (the default) delivers as soon as events are there.
   */
  gatherMs?: number;
  /** Called with each batch in log order; the next batch waits until it resolves. */
  onEvents(events: RecordedEvent[]): Promise<void>;
  /** A handler or connection failure; the subscription retries from its last delivered position. */
  onError?(err: unknown): void;
}

export interface Subscription {
  /** Stops delivery; resolves once the handler in progress (if any) has finished. */
  stop(): Promise<void>;
}

export interface EventStore {
  readonly kind: 'postgres' | 'eventstoredb';
  /**
   * Appends atomically, checking the expected revision. Throws ConcurrencyError when it does not hold.
   * Appending event ids already in the stream at that place returns the original result instead.
   */
  append(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  readStream(streamId: string, options?: { fromRevision?: number; maxCount?: number }): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** The position of the last event in the log (0 when empty). */
  headPosition(): Promise<number>;
  subscribe(options: SubscribeOptions): Subscription;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
