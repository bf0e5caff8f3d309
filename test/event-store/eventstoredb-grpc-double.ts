// An in-process test double of EventStoreDB's gRPC Streams API, not a real server. It serves the calls
// EventStoreDbEventStore makes (ServerFeatures.GetSupportedMethods, Streams.BatchAppend, Streams.Read for
// stream reads, $all reads both ways and filtered $all subscriptions) on the service definitions that
// @eventstore/db-client ships, and keeps the log in memory with EventStoreDB's rules: expected-revision
// and idempotency checks, byte-offset positions (commit = prepare, as 22.6+ report them), inclusive $all
// reads, exclusive subscription starts, flow control. Anything else answers UNIMPLEMENTED; there are no
// users, ACLs, deletes, links or deadlines, and the event-id cache behind idempotency never forgets.
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import streamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import statusPb from '@eventstore/db-client/generated/status_pb.js';
import codePb from '@eventstore/db-client/generated/code_pb.js';
import featuresGrpc from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js';
import featuresPb from '@eventstore/db-client/generated/serverfeatures_pb.js';
import type { BatchAppendReq, BatchAppendResp, ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb.js';
import type { StreamIdentifier } from '@eventstore/db-client/generated/shared_pb.js';
import type { Status } from '@eventstore/db-client/generated/status_pb.js';
import type { SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb.js';
import type * as anyPb from 'google-protobuf/google/protobuf/any_pb.js';
import type * as emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';

// The well-known types come from the client's own google-protobuf, so the messages nest as it expects.
const requireFromClient = createRequire(createRequire(import.meta.url).resolve('@eventstore/db-client'));
const { Any } = requireFromClient('google-protobuf/google/protobuf/any_pb.js') as typeof anyPb;
const { Empty } = requireFromClient('google-protobuf/google/protobuf/empty_pb.js') as typeof emptyPb;

const { ReadReq: Req, ReadResp: Resp, BatchAppendResp: AppendResp } = streamsPb;
const { StreamOptionCase, CountOptionCase, FilterOptionCase, ReadDirection } = Req.Options;

// EventStoreDB's ExpectedVersion sentinels.
const ANY = -2n;
const NO_STREAM = -1n;
const STREAM_EXISTS = -4n;
const DEFAULT_FILTER_WINDOW = 32;
const TICKS_PER_MS = 10_000n;

interface StoredEvent {
  id: string;
  streamId: string;
  revision: number;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
  /** Commit and prepare position alike: the record's byte offset in the pretend transaction file. */
  position: bigint;
  createdTicks: bigint;
}

type Proposed = Pick<StoredEvent, 'id' | 'type' | 'contentType' | 'data' | 'metadata'>;
type Outcome = { ok: true; revision: bigint; position?: bigint } | { ok: false; current: bigint };
export type Start = bigint | 'start' | 'end';

class RpcError extends Error {
  constructor(readonly code: grpc.status, readonly details: string) { super(details); }
}

export interface GrpcDoubleOptions {
  /** Older servers answered an idempotent append without a position; set false to behave like them. */
  idempotentAppendsReportPosition?: boolean;
}

export class EventStoreDbGrpcDouble {
  /** Events written to subscription calls so far, to observe flow control from a test. */
  subscriptionEventsSent = 0;
  /** Where each subscription asked to start, in arrival order. */
  readonly subscriptionStarts: Start[] = [];
  private readonly server = new grpc.Server();
  private readonly log: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly byId = new Map<string, StoredEvent>();
  private readonly recordPositions = new Set<bigint>();
  private readonly appendWaiters = new Set<() => void>();
  private readonly subscriptions = new Map<grpc.ServerWritableStream<ReadReq, ReadResp>, AbortController>();
  // The chunk header and the epoch record come first, so no event sits at position 0.
  private head = 256n;
  private port = 0;

  private constructor(private readonly options: GrpcDoubleOptions) {
    this.server.addService(featuresGrpc.ServerFeaturesService, {
      getSupportedMethods: (_call: unknown, callback: grpc.sendUnaryData<SupportedMethods>) =>
        callback(null, supportedMethods()),
    });
    this.server.addService(streamsGrpc.StreamsService, {
      read: (call: grpc.ServerWritableStream<ReadReq, ReadResp>) => void this.read(call),
      batchAppend: (call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => this.batchAppend(call),
    });
    this.recordSystemEvent('$users', '$User');
    this.recordSystemEvent('$user-admin', '$user');
  }

  static async start(options: GrpcDoubleOptions = {}): Promise<EventStoreDbGrpcDouble> {
    const double = new EventStoreDbGrpcDouble(options);
    double.port = await new Promise<number>((resolve, reject) =>
      double.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    return double;
  }

  get liveSubscriptions(): number {
    return this.subscriptions.size;
  }

  get connectionString(): string {
    return `esdb://127.0.0.1:${this.port}?tls=false`;
  }

  /** Appends an event the way the server's own subsystems do (users, stats, projections). */
  recordSystemEvent(streamId: string, type: string): void {
    this.append(streamId, ANY, [{ id: randomUUID(), type, contentType: 'application/json', data: Buffer.from('{}'), metadata: new Uint8Array() }]);
  }

  /** Ends every live subscription with UNAVAILABLE, as a node going away does. */
  dropSubscriptions(): void {
    for (const [call, controller] of this.subscriptions) {
      controller.abort();
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'Subscription dropped by the gRPC double' });
    }
    this.subscriptions.clear();
  }

  async stop(): Promise<void> {
    for (const controller of this.subscriptions.values()) controller.abort();
    this.server.forceShutdown();
  }

  private append(streamId: string, expected: bigint, proposed: Proposed[]): Outcome {
    const stream = this.streams.get(streamId) ?? [];
    const current = BigInt(stream.length - 1);
    if (expected === STREAM_EXISTS && current < 0n) return { ok: false, current };
    // Idempotency checks as in the server's IndexWriter.CheckCommit.
    if (expected === ANY || expected === STREAM_EXISTS) {
      const known = proposed.map((p) => this.byId.get(p.id)).map((e) => (e?.streamId === streamId ? e : undefined));
      if (known.length > 0 && known.every((e) => e !== undefined)) return this.replayed(known[known.length - 1]!);
      if (known[0] !== undefined) return { ok: false, current };
    } else if (expected < current) {
      const from = Number(expected) + 1;
      const matches = proposed.length > 0 && proposed.every((p, i) => stream[from + i]?.id === p.id);
      return matches ? this.replayed(stream[from + proposed.length - 1]) : { ok: false, current };
    } else if (expected > current) {
      return { ok: false, current };
    }
    if (proposed.length === 0) return { ok: true, revision: current };
    for (const p of proposed) {
      const event: StoredEvent = {
        ...p, streamId, revision: stream.length, position: this.head, createdTicks: BigInt(Date.now()) * TICKS_PER_MS,
      };
      this.head += BigInt(64 + streamId.length + p.type.length + p.data.length + p.metadata.length);
      stream.push(event);
      this.log.push(event);
      this.byId.set(event.id, event);
      this.recordPositions.add(event.position);
    }
    this.streams.set(streamId, stream);
    for (const wake of this.appendWaiters) wake();
    this.appendWaiters.clear();
    const last = stream[stream.length - 1];
    return { ok: true, revision: BigInt(last.revision), position: last.position };
  }

  private replayed(last: StoredEvent): Outcome {
    const position = this.options.idempotentAppendsReportPosition === false ? undefined : last.position;
    return { ok: true, revision: BigInt(last.revision), position };
  }

  private batchAppend(call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void {
    const pending = new Map<string, { options: BatchAppendReq.Options; proposed: Proposed[] }>();
    call.on('data', (req: BatchAppendReq) => {
      const correlationId = req.getCorrelationId()!;
      const key = correlationId.getString();
      const options = req.getOptions();
      if (options) pending.set(key, { options, proposed: [] });
      const write = pending.get(key);
      if (!write) return;
      write.proposed.push(...req.getProposedMessagesList().map((m) => ({
        id: m.getId()!.getString(),
        type: m.getMetadataMap().get('type') ?? '',
        contentType: m.getMetadataMap().get('content-type') ?? 'application/octet-stream',
        data: m.getData_asU8(),
        metadata: m.getCustomMetadata_asU8(),
      })));
      if (!req.getIsFinal()) return;
      pending.delete(key);
      const expected = expectedOf(write.options);
      const outcome = this.append(nameOf(write.options.getStreamIdentifier()), expected, write.proposed);
      const resp = new AppendResp().setCorrelationId(correlationId).setStreamIdentifier(write.options.getStreamIdentifier());
      if (outcome.ok) resp.setSuccess(appendSuccess(outcome.revision, outcome.position));
      else resp.setError(wrongExpectedVersion(outcome.current, expected));
      call.write(resp);
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  }

  private async read(call: grpc.ServerWritableStream<ReadReq, ReadResp>): Promise<void> {
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort());
    try {
      const options = call.request.getOptions()!;
      const all = options.getStreamOptionCase() === StreamOptionCase.ALL;
      const subscription = options.getCountOptionCase() === CountOptionCase.SUBSCRIPTION;
      const backwards = options.getReadDirection() === ReadDirection.BACKWARDS;
      const filtered = options.getFilterOptionCase() === FilterOptionCase.FILTER;
      if (!options.getUuidOption()?.hasString()) throw new RpcError(grpc.status.UNIMPLEMENTED, 'The gRPC double only serves string UUIDs');
      if (!all && !subscription && !backwards && !filtered) {
        await this.readStream(call, options.getStream()!, Number(options.getCount()), controller.signal);
      } else if (all && !subscription && !filtered) {
        await this.readAll(call, this.startOf(options.getAll()!), Number(options.getCount()), backwards, controller.signal);
      } else if (all && subscription && !backwards) {
        this.subscriptions.set(call, controller);
        await this.subscribeToAll(call, this.startOf(options.getAll()!), filtered ? options.getFilter() : undefined, controller.signal);
      } else {
        throw new RpcError(grpc.status.UNIMPLEMENTED, 'The gRPC double does not serve this kind of read');
      }
      if (!controller.signal.aborted) call.end();
    } catch (err) {
      if (controller.signal.aborted) return;
      const { code, details } = err instanceof RpcError ? err : { code: grpc.status.INTERNAL, details: String(err) };
      call.emit('error', { code, details });
    } finally {
      this.subscriptions.delete(call);
    }
  }

  private async readStream(call: grpc.ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options.StreamOptions, count: number, signal: AbortSignal): Promise<void> {
    const stream = this.streams.get(nameOf(options.getStreamIdentifier()));
    if (!stream) {
      await send(call, new Resp().setStreamNotFound(new Resp.StreamNotFound().setStreamIdentifier(options.getStreamIdentifier())), signal);
      return;
    }
    const Revision = Req.Options.StreamOptions.RevisionOptionCase;
    const from = options.getRevisionOptionCase() === Revision.REVISION ? Number(options.getRevision())
      : options.getRevisionOptionCase() === Revision.END ? stream.length : 0;
    for (const event of stream.slice(from, from + count)) await send(call, eventResp(event), signal);
  }

  private async readAll(call: grpc.ServerWritableStream<ReadReq, ReadResp>, start: Start, count: number, backwards: boolean, signal: AbortSignal): Promise<void> {
    // Forwards from a position includes the event there; backwards gives the events before it.
    const events = backwards
      ? this.log.filter((e) => start === 'end' || (start !== 'start' && e.position < start)).reverse()
      : this.log.filter((e) => start === 'start' || (start !== 'end' && e.position >= start));
    for (const event of events.slice(0, count)) await send(call, eventResp(event), signal);
  }

  private async subscribeToAll(call: grpc.ServerWritableStream<ReadReq, ReadResp>, start: Start, filter: ReadReq.Options.FilterOptions | undefined, signal: AbortSignal): Promise<void> {
    this.subscriptionStarts.push(start);
    const matches = filterOf(filter);
    const window = filter?.getWindowCase() === Req.Options.FilterOptions.WindowCase.MAX ? filter.getMax() : DEFAULT_FILTER_WINDOW;
    const checkpointEvery = filter ? Math.max(1, filter.getCheckpointintervalmultiplier()) * window : 0;
    await send(call, new Resp().setConfirmation(new Resp.SubscriptionConfirmation().setSubscriptionId(randomUUID())), signal);
    // fromPosition is exclusive for subscriptions.
    let next = start === 'start' ? 0 : start === 'end' ? this.log.length : this.log.findIndex((e) => e.position > start);
    if (next < 0) next = this.log.length;
    let caughtUp = false;
    let scanned = 0;
    let wake = (): void => undefined;
    signal.addEventListener('abort', () => wake(), { once: true });
    while (!signal.aborted) {
      if (next < this.log.length) {
        const event = this.log[next++];
        if (matches(event)) {
          await send(call, eventResp(event), signal);
          this.subscriptionEventsSent++;
        }
        if (checkpointEvery > 0 && ++scanned % checkpointEvery === 0) await send(call, checkpoint(event.position), signal);
        continue;
      }
      if (!caughtUp) {
        caughtUp = true;
        if (filter && next > 0) await send(call, checkpoint(this.log[next - 1].position), signal);
        await send(call, new Resp().setCaughtUp(new Resp.CaughtUp()), signal);
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.appendWaiters.add(resolve);
      });
    }
  }

  private startOf(options: ReadReq.Options.AllOptions): Start {
    const Case = Req.Options.AllOptions.AllOptionCase;
    if (options.getAllOptionCase() === Case.START) return 'start';
    if (options.getAllOptionCase() === Case.END) return 'end';
    const commit = BigInt(options.getPosition()!.getCommitPosition());
    const prepare = BigInt(options.getPosition()!.getPreparePosition());
    if (commit !== prepare || !(this.recordPositions.has(commit) || commit === this.head)) {
      throw new RpcError(grpc.status.INVALID_ARGUMENT, 'Trying to read from an invalid position.');
    }
    return commit;
  }
}

async function send(call: grpc.ServerWritableStream<ReadReq, ReadResp>, message: ReadResp, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw signal.reason;
  if (!call.write(message)) await once(call, 'drain', { signal });
}

function nameOf(identifier: StreamIdentifier | undefined): string {
  return Buffer.from(identifier!.getStreamName_asU8()).toString('utf8');
}

function identifierOf(streamId: string): StreamIdentifier {
  return new sharedPb.StreamIdentifier().setStreamName(Buffer.from(streamId, 'utf8'));
}

function expectedOf(options: BatchAppendReq.Options): bigint {
  const Case = streamsPb.BatchAppendReq.Options.ExpectedStreamPositionCase;
  switch (options.getExpectedStreamPositionCase()) {
    case Case.STREAM_POSITION: return BigInt(options.getStreamPosition());
    case Case.NO_STREAM: return NO_STREAM;
    case Case.STREAM_EXISTS: return STREAM_EXISTS;
    default: return ANY;
  }
}

function appendSuccess(revision: bigint, position: bigint | undefined): BatchAppendResp.Success {
  const success = new AppendResp.Success();
  if (revision >= 0n) success.setCurrentRevision(String(revision));
  else success.setNoStream(new Empty());
  if (position === undefined) return success.setNoPosition(new Empty());
  return success.setPosition(new sharedPb.AllStreamPosition().setCommitPosition(String(position)).setPreparePosition(String(position)));
}

function wrongExpectedVersion(current: bigint, expected: bigint): Status {
  const details = new sharedPb.WrongExpectedVersion();
  if (current >= 0n) details.setCurrentStreamRevision(String(current));
  else details.setCurrentNoStream(new Empty());
  if (expected === ANY) details.setExpectedAny(new Empty());
  else if (expected === NO_STREAM) details.setExpectedNoStream(new Empty());
  else if (expected === STREAM_EXISTS) details.setExpectedStreamExists(new Empty());
  else details.setExpectedStreamPosition(String(expected));
  const packed = new Any();
  packed.pack(details.serializeBinary(), 'event_store.client.WrongExpectedVersion');
  return new statusPb.Status().setCode(codePb.Code.ALREADY_EXISTS).setMessage('WrongExpectedVersion').setDetails(packed);
}

function eventResp(e: StoredEvent): ReadResp {
  const recorded = new Resp.ReadEvent.RecordedEvent()
    .setId(new sharedPb.UUID().setString(e.id))
    .setStreamIdentifier(identifierOf(e.streamId))
    .setStreamRevision(String(e.revision))
    .setCommitPosition(String(e.position))
    .setPreparePosition(String(e.position))
    .setData(e.data)
    .setCustomMetadata(e.metadata);
  recorded.getMetadataMap().set('type', e.type).set('content-type', e.contentType).set('created', String(e.createdTicks));
  return new Resp().setEvent(new Resp.ReadEvent().setEvent(recorded).setCommitPosition(String(e.position)));
}

function checkpoint(position: bigint): ReadResp {
  return new Resp().setCheckpoint(new Resp.Checkpoint().setCommitPosition(String(position)).setPreparePosition(String(position)));
}

function filterOf(filter: ReadReq.Options.FilterOptions | undefined): (e: StoredEvent) => boolean {
  if (!filter) return () => true;
  const onType = filter.getFilterCase() === Req.Options.FilterOptions.FilterCase.EVENT_TYPE;
  const expression = (onType ? filter.getEventType() : filter.getStreamIdentifier())!;
  const regex = expression.getRegex() ? new RegExp(expression.getRegex()) : undefined;
  const prefixes = expression.getPrefixList();
  return (e) => {
    const value = onType ? e.type : e.streamId;
    return regex ? regex.test(value) : prefixes.some((p) => value.startsWith(p));
  };
}

function supportedMethods(): SupportedMethods {
  const method = (service: string, name: string, features: string[]) =>
    new featuresPb.SupportedMethod().setServiceName(service).setMethodName(name).setFeaturesList(features);
  return new featuresPb.SupportedMethods().setEventStoreServerVersion('0.0.0-grpc-double').setMethodsList([
    method('event_store.client.server_features.serverfeatures', 'getsupportedmethods', []),
    method('event_store.client.streams.streams', 'read', ['position', 'events']),
    method('event_store.client.streams.streams', 'batchappend', ['deadline_duration']),
  ]);
}
