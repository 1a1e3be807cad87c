import {
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
  UnknownError,
} from '@eventstore/db-client';
import { EventStoreBusyError, type ExpectedRevision } from '../../application/ports/eventStore';
import { UnavailableError as ServiceUnavailableError } from '../../application/unavailable';

/**
 * What a failed call to EventStoreDB (server 24.10, client `@eventstore/db-client` 6.2.1)
 * means to the caller. Read from the server's `RpcExceptions` and `Streams.Append` /
 * `Streams.BatchAppend`, and from the client's `convertToCommandError` / `unpackToCommandError`:
 *
 * - `not-taken`: the server refused to handle the request, so nothing was written.
 *   "Server Is Not Ready" (starting, electing) and "Server Is Too Busy" come as gRPC
 *   UNAVAILABLE on the unary append and on reads (the client's `UnavailableError`); on the
 *   batch append they come as an error reply the client does not recognise
 *   (`UnknownError`, "Could not recognize Server Is Not Ready" / "Server Is Busy").
 *   `NotLeaderError`: a follower refused a write; the client reconnects to the leader.
 * - `no-answer`: the request may or may not have taken effect. The server or the network
 *   went away (`UnavailableError` of a broken connection, or the raw gRPC error the
 *   client lets through when the connection never came up), the deadline passed
 *   (`DeadlineExceededError`), the server gave up on the write ("Operation timed out",
 *   gRPC ABORTED: the client's `TimeoutError`), or the server cancelled the call
 *   (`CancelledError`; a cancel of our own is not converted by the client).
 * - `other`: anything else (a refusal, a bad request, a bug): passed on as it is.
 */
export type FailureKind = 'not-taken' | 'no-answer' | 'other';

/** The server's own words for "not handled", on whichever path they come. */
const NOT_HANDLED = /Server Is (?:Not Ready|Too Busy|Busy)/;

/** gRPC status codes (fixed by the protocol). */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof NotLeaderError) return 'not-taken';
  if (error instanceof UnavailableError || error instanceof UnknownError) {
    if (NOT_HANDLED.test(error.message)) return 'not-taken';
    return error instanceof UnavailableError ? 'no-answer' : 'other';
  }
  if (error instanceof DeadlineExceededError || error instanceof TimeoutError || error instanceof CancelledError) return 'no-answer';
  // The raw gRPC error of a connection that never came up (the client does not convert it).
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) return 'no-answer';
  return 'other';
}

/**
 * Whether an append that failed this way may be sent again unchanged: the failure is
 * one of the two above, and the expected revision pins where the events go, so the
 * server takes a second copy of a write it already made as the idempotent retry of the
 * first. With `any` a resend after a landed write can duplicate it: never retried.
 */
export function isRetryableAppendFailure(error: unknown, expectedRevision: ExpectedRevision): boolean {
  if (expectedRevision === 'any') return false;
  return classifyFailure(error) !== 'other';
}

/**
 * The failure as the service answers it: `not-taken` and `no-answer` are the service's
 * `unavailable` (HTTP 503 with Retry-After, an `error` frame over WebSocket) — the
 * client retries, and a retried append is the idempotent retry the port promises.
 * A server that is not ready or busy is `EventStoreBusyError` (nothing was written).
 */
export function asServiceError(error: unknown): unknown {
  const kind = classifyFailure(error);
  if (kind === 'other') return error;
  const failure =
    kind === 'not-taken'
      ? new EventStoreBusyError('the event store is not ready or busy; retry in a moment')
      : new ServiceUnavailableError('the event store did not answer in time; retry in a moment');
  (failure as Error & { cause?: unknown }).cause = error;
  return failure;
}
