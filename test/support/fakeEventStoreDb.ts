/**
 * A stand-in for an EventStoreDB node that speaks its gRPC protocol (the client's own
 * generated service definitions, served by the same @grpc/grpc-js the client uses), for
 * the answers a real server cannot be made to give on demand: "Server Is Not Ready", a
 * write it timed out, a read it never answers while the connection stays alive, a reply
 * that comes after another connection failed. It keeps no log: each test scripts what
 * the server answers. The real server is what the EventStoreDB contract suite runs against.
 */
import { createRequire } from 'node:module';
import type * as GrpcJs from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { AllStreamPosition, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';

const grpc = createRequire(require.resolve('@eventstore/db-client'))('@grpc/grpc-js') as typeof GrpcJs;
export const grpcStatus = grpc.status;

/** A failure as the server sends it: a gRPC status code and its details (RpcExceptions.cs). */
export interface GrpcFailure {
  code: number;
  details: string;
}

/** One unary append, as the server received it. */
export interface ReceivedAppend {
  streamName: string;
  eventIds: string[];
  succeed(revision: bigint, commit: bigint): void;
  fail(failure: GrpcFailure): void;
}

/** One batch append request (the client's batch path), as the server received it. */
export interface ReceivedBatchAppend {
  streamName: string;
  succeed(revision: bigint, commit: bigint): void;
  /** Ends the whole batch stream with this status (as a broken connection would). */
  breakStream(failure: GrpcFailure): void;
}

/** One read or subscription, as the server received it. */
export interface ReceivedRead {
  subscription: boolean;
  backwards: boolean;
  /** Sends one event of ours (stream `room-x`) at this position. */
  sendEvent(commit: bigint): void;
  end(): void;
  fail(failure: GrpcFailure): void;
}

export interface FakeEventStoreDb {
  connectionString: string;
  appends: ReceivedAppend[];
  batchAppends: ReceivedBatchAppend[];
  reads: ReceivedRead[];
  /** What the server does with each request; the defaults answer at once (success, empty read). */
  onAppend: (append: ReceivedAppend) => void;
  onBatchAppend: (append: ReceivedBatchAppend) => void;
  onRead: (read: ReceivedRead) => void;
  /** Resolves once the server has received `count` requests of this kind. */
  received(kind: 'appends' | 'batchAppends' | 'reads', count: number): Promise<void>;
  /** The `date` header the server puts on its answers (an HTTP date); null: the real time. */
  date: string | null;
  /** Drops every connection at once. */
  close(): Promise<void>;
}

export async function startFakeEventStoreDb(): Promise<FakeEventStoreDb> {
  const waiters: Array<() => void> = [];
  const notify = (): void => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  let positions = 100n;

  const fake: FakeEventStoreDb = {
    connectionString: '',
    appends: [],
    batchAppends: [],
    reads: [],
    onAppend: (append) => append.succeed(BigInt(append.eventIds.length - 1), (positions += 10n)),
    onBatchAppend: (append) => append.succeed(0n, (positions += 10n)),
    onRead: (read) => read.end(),
    date: null,
    received: async (kind, count) => {
      while (fake[kind].length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    close: async () => {
      server.forceShutdown();
    },
  };

  const server = new grpc.Server();
  server.addService(StreamsService as never, {
    append: (call: GrpcJs.ServerReadableStream<AppendReq, AppendResp>, callback: GrpcJs.sendUnaryData<AppendResp>) => {
      const messages: AppendReq[] = [];
      call.on('data', (message: AppendReq) => messages.push(message));
      call.on('error', () => undefined);
      call.on('end', () => {
        const options = messages[0]?.getOptions();
        const append: ReceivedAppend = {
          streamName: Buffer.from(options?.getStreamIdentifier()?.getStreamName() ?? '').toString('utf8'),
          eventIds: messages.slice(1).map((m) => m.getProposedMessage()?.getId()?.getString() ?? ''),
          succeed: (revision, commit) => {
            const success = new AppendResp.Success();
            success.setCurrentRevision(revision.toString());
            const position = new AppendResp.Position();
            position.setCommitPosition(commit.toString());
            position.setPreparePosition(commit.toString());
            success.setPosition(position);
            callback(null, new AppendResp().setSuccess(success));
          },
          fail: (failure) => callback({ ...failure, metadata: new grpc.Metadata() }),
        };
        fake.appends.push(append);
        notify();
        fake.onAppend(append);
      });
    },
    batchAppend: (call: GrpcJs.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => {
      call.on('error', () => undefined);
      call.on('data', (request: BatchAppendReq) => {
        const streamName = Buffer.from(request.getOptions()?.getStreamIdentifier()?.getStreamName() ?? '').toString('utf8');
        const append: ReceivedBatchAppend = {
          streamName,
          succeed: (revision, commit) => {
            const success = new BatchAppendResp.Success();
            success.setCurrentRevision(revision.toString());
            const position = new AllStreamPosition();
            position.setCommitPosition(commit.toString());
            position.setPreparePosition(commit.toString());
            success.setPosition(position);
            const response = new BatchAppendResp();
            response.setCorrelationId(request.getCorrelationId());
            response.setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from(streamName)));
            response.setSuccess(success);
            call.write(response);
          },
          breakStream: (failure) => call.emit('error', { ...failure, metadata: new grpc.Metadata() }),
        };
        fake.batchAppends.push(append);
        notify();
        fake.onBatchAppend(append);
      });
    },
    read: (call: GrpcJs.ServerWritableStream<ReadReq, ReadResp>) => {
      call.on('error', () => undefined);
      const options = call.request.getOptions();
      const read: ReceivedRead = {
        subscription: options?.hasSubscription() ?? false,
        backwards: options?.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS,
        sendEvent: (commit) => call.write(eventAt(commit)),
        end: () => call.end(),
        fail: (failure) => call.emit('error', { ...failure, metadata: new grpc.Metadata() }),
      };
      fake.reads.push(read);
      notify();
      fake.onRead(read);
    },
  });
  server.addService(ServerFeaturesService as never, {
    // What a 24.10 node offers, as far as the client asks: the batch append among it.
    getSupportedMethods: (call: GrpcJs.ServerUnaryCall<unknown, SupportedMethods>, callback: GrpcJs.sendUnaryData<SupportedMethods>) => {
      if (fake.date !== null) {
        const headers = new grpc.Metadata();
        headers.set('date', fake.date);
        call.sendMetadata(headers);
      }
      const methods = new SupportedMethods();
      methods.setEventStoreServerVersion('24.10.4');
      for (const name of ['Read', 'Append', 'BatchAppend']) {
        methods.addMethods(new SupportedMethod().setServiceName('event_store.client.streams.Streams').setMethodName(name));
      }
      callback(null, methods);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  fake.connectionString = `esdb://127.0.0.1:${port}?tls=false`;
  return fake;
}

/** A ReadResp carrying one JSON event of stream `room-x` at this log position. */
function eventAt(commit: bigint): ReadResp {
  const record = new ReadResp.ReadEvent.RecordedEvent();
  record.setId(new UUID().setString(`00000000-0000-4000-8000-${commit.toString().padStart(12, '0')}`));
  record.setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from('room-x')));
  record.setStreamRevision(commit.toString());
  record.setCommitPosition(commit.toString());
  record.setPreparePosition(commit.toString());
  record.getMetadataMap().set('type', 'MessageSent');
  record.getMetadataMap().set('content-type', 'application/json');
  record.getMetadataMap().set('created', (BigInt(Date.now()) * 10_000n).toString());
  record.setData(Buffer.from(JSON.stringify({ at: commit.toString() })));
  record.setCustomMetadata(Buffer.from(JSON.stringify({ actorId: 'u1' })));
  const event = new ReadResp.ReadEvent();
  event.setEvent(record);
  event.setCommitPosition(commit.toString());
  return new ReadResp().setEvent(event);
}
