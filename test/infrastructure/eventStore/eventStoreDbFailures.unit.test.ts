/**
 * How the EventStoreDB adapter answers each failure the server can send, with the
 * client's own error objects made the way the client makes them: a gRPC status as
 * `@grpc/grpc-js` turns it into an error (for the unary append and every read), through
 * the client's `convertToCommandError`; and an error reply of the batch append, a
 * `google.rpc.Status` built as the server 24.10 builds it (Streams.BatchAppend.cs),
 * through the client's `unpackToCommandError`. The server's words are the server's
 * (RpcExceptions.cs at v24.10.x).
 */
import { createRequire } from 'node:module';
import {
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
  UnknownError,
  convertToCommandError,
} from '@eventstore/db-client';
import { unpackToCommandError } from '@eventstore/db-client/dist/streams/appendToStream/unpackError';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { EventStoreBusyError } from '../../../src/application/ports/eventStore';
import { UnavailableError as ServiceUnavailableError } from '../../../src/application/unavailable';
import { asServiceError, classifyFailure, isRetryableAppendFailure } from '../../../src/infrastructure/eventStore/eventStoreDbFailures';

// The very modules the client loads (not whatever copy a test would find).
const clientRequire = createRequire(require.resolve('@eventstore/db-client'));
const grpc = clientRequire('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const { callErrorFromStatus } = clientRequire('@grpc/grpc-js/build/src/call') as {
  callErrorFromStatus(status: { code: number; details: string; metadata: InstanceType<typeof grpc.Metadata> }, callerStack: string): Error;
};
const { Any } = clientRequire('google-protobuf/google/protobuf/any_pb') as { Any: new () => { pack(bytes: Uint8Array, name: string): void } };

/** A gRPC status as the client receives it, converted by the client. */
function fromGrpc(code: number, details: string, metadata: Record<string, string> = {}): unknown {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return convertToCommandError(callErrorFromStatus({ code, details, metadata: md }, '') as never);
}

/** An error reply of the batch append, converted by the client. */
function fromBatchReply(message: string, detailsType = 'google.protobuf.Empty'): unknown {
  const status = new Status();
  status.setMessage(message);
  const details = new Any();
  details.pack(new Empty().serializeBinary(), detailsType);
  status.setDetails(details as never);
  return unpackToCommandError(status, 'room-1');
}

describe('EventStoreDB failures: what the server sends, as the client hands it to us', () => {
  it('"Server Is Not Ready" / "Server Is Too Busy" on the unary append and reads: not taken, answered busy (503), retried', () => {
    for (const words of ['Server Is Not Ready', 'Server Is Too Busy']) {
      const error = fromGrpc(grpc.status.UNAVAILABLE, words);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(classifyFailure(error)).toBe('not-taken');
      const answered = asServiceError(error);
      expect(answered).toBeInstanceOf(EventStoreBusyError);
      expect(answered).toBeInstanceOf(ServiceUnavailableError);
      expect((answered as ServiceUnavailableError).retryAfterSeconds).toBe(1);
      expect((answered as Error & { cause?: unknown }).cause).toBe(error);
      expect(isRetryableAppendFailure(error, 'no_stream')).toBe(true);
      expect(isRetryableAppendFailure(error, 12n)).toBe(true);
      expect(isRetryableAppendFailure(error, 'any')).toBe(false);
    }
  });

  it('"Server Is Not Ready" / "Server Is Busy" as a batch-append reply (the client calls it UnknownError): not taken, answered busy', () => {
    for (const words of ['Server Is Not Ready', 'Server Is Busy']) {
      const error = fromBatchReply(words);
      expect(error).toBeInstanceOf(UnknownError);
      expect((error as Error).message).toBe(`Could not recognize ${words}`);
      expect(classifyFailure(error)).toBe('not-taken');
      expect(asServiceError(error)).toBeInstanceOf(EventStoreBusyError);
      expect(isRetryableAppendFailure(error, 0n)).toBe(true);
    }
    // The batch append's own timeout reply is the client's DeadlineExceededError.
    const timeout = fromBatchReply('Timeout', 'event_store.client.Timeout');
    expect(timeout).toBeInstanceOf(DeadlineExceededError);
    expect(classifyFailure(timeout)).toBe('no-answer');
  });

  it('a follower refusing a write (not-leader): not taken, retried once the client has moved to the leader', () => {
    const error = fromGrpc(grpc.status.NOT_FOUND, 'Leader info available', {
      exception: 'not-leader',
      'leader-endpoint-host': '10.0.0.2',
      'leader-endpoint-port': '2113',
    });
    expect(error).toBeInstanceOf(NotLeaderError);
    expect(classifyFailure(error)).toBe('not-taken');
    expect(isRetryableAppendFailure(error, 4n)).toBe(true);
  });

  it('no answer — a broken connection, a deadline, a write the server timed out, a cancel by the server: unavailable (503), retried', () => {
    const cases: Array<[unknown, new (...args: never[]) => Error]> = [
      [fromGrpc(grpc.status.UNAVAILABLE, 'Connection dropped'), UnavailableError],
      [fromGrpc(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), DeadlineExceededError],
      [fromGrpc(grpc.status.ABORTED, 'Operation timed out: Commit timeout.'), TimeoutError],
      [fromGrpc(grpc.status.CANCELLED, 'Call cancelled'), CancelledError],
    ];
    for (const [error, clientClass] of cases) {
      expect(error).toBeInstanceOf(clientClass);
      expect(classifyFailure(error)).toBe('no-answer');
      const answered = asServiceError(error);
      expect(answered).toBeInstanceOf(ServiceUnavailableError);
      expect(answered).not.toBeInstanceOf(EventStoreBusyError);
      expect((answered as Error).message).toBe('the event store did not answer in time; retry in a moment');
      expect(isRetryableAppendFailure(error, 'no_stream')).toBe(true);
      expect(isRetryableAppendFailure(error, 'any')).toBe(false);
    }
  });

  it('passes on, unchanged, our own cancel, refusals and anything unknown', () => {
    const ours = fromGrpc(grpc.status.CANCELLED, 'Cancelled on client');
    const denied = fromGrpc(grpc.status.PERMISSION_DENIED, 'Access Denied', { exception: 'access-denied' });
    const unknown = fromGrpc(grpc.status.UNKNOWN, 'Unexpected OperationResult: 9');
    const internal = fromGrpc(grpc.status.INTERNAL, 'boom');
    const plain = new Error('a bug');
    for (const error of [ours, denied, unknown, internal, plain]) {
      expect(classifyFailure(error)).toBe('other');
      expect(asServiceError(error)).toBe(error);
      expect(isRetryableAppendFailure(error, 1n)).toBe(false);
    }
    expect(ours).not.toBeInstanceOf(CancelledError);
  });
});
