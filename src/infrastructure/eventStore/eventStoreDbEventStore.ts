import {
  BACKWARDS,
  DeadlineExceededError,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  excludeSystemEvents,
  jsonEvent,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type AppendResult as EsdbAppendResult,
  type JSONType,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import type {
  AppendResult,
  EventMetadata,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
  SubscriptionStart,
} from '../../application/ports/eventStore';
import { WrongExpectedRevisionError } from '../../application/ports/eventStore';
import { UnavailableError as ServiceUnavailableError } from '../../application/unavailable';
import { interruptibleSleep } from './interruptibleSleep';

/**
 * The event store on EventStoreDB (gRPC client `@eventstore/db-client` 6). This file is
 * the whole seam to the client: a move to its successor `@kurrent/kurrentdb-client`
 * changes this file only (docs/event-store.md lists what differs).
 *
 * Positions. A global position is EventStoreDB's (commit, prepare) pair. The
 * checkpoint writes both as 20 decimal digits behind an `esdb:` prefix,
 * `esdb:commit/prepare`, so checkpoints compare as strings exactly as positions compare
 * as pairs, and a PostgreSQL checkpoint (same digits, no prefix) is refused rather than
 * read as a position. Positions stay bigint from the wire to the string and back.
 *
 * Idempotence. Each event is sent with its own id. EventStoreDB answers a retry of an
 * append it already holds as a success that writes nothing only when the retry carries
 * the original expected revision (an exact revision, or no_stream): the server finds the
 * ids at the revisions that follow it. When it refuses such a retry as a wrong expected
 * revision (the stream moved on since), we read the revisions the append would have
 * taken: if they hold exactly these ids, the append had happened, and we answer as for
 * the original. Not covered, and not promised by the port: re-appending an old id at the
 * stream's *current* revision, or with `any` once the server has forgotten the id — both
 * write it again.
 *
 * System events (`$`-types, links, `$`-streams) never leave this adapter.
 */
export class EventStoreDbEventStore implements EventStore {
  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: { readBatchSize?: number; maxBackoffMs?: number; appendRetryDelayMs?: number } = {},
  ) {}

  static connect(connectionString: string): EventStoreDbEventStore {
    return new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString));
  }

  /**
   * Connects and asks the server for the head of its log once, so a wrong address, a
   * TLS mismatch or a server that is down stops start-up with one line, instead of
   * surfacing later as failed appends and a silent projection.
   */
  static async open(connectionString: string, probeTimeoutMs = 10_000): Promise<EventStoreDbEventStore> {
    const store = EventStoreDbEventStore.connect(connectionString);
    let cancel: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      // The read's own deadline does not cover the client's first call (it asks the
      // server what it supports, with no deadline): a server that accepts the
      // connection and never answers would hold start-up for ever without this timer.
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          cancel();
          reject(new Error(`no answer within ${probeTimeoutMs} ms`));
        }, probeTimeoutMs);
      });
      await Promise.race([store.headPosition((c) => (cancel = c), probeTimeoutMs), timedOut]);
    } catch (error) {
      await store.close().catch(() => undefined);
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(`EventStoreDB at ${redactConnectionString(connectionString)} did not answer: ${reason}`);
    } finally {
      clearTimeout(timer);
    }
    return store;
  }

  async appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    const proposed = events.map((event) =>
      jsonEvent({
        id: event.eventId,
        type: event.type,
        data: event.data as JSONType,
        metadata: event.metadata as unknown as JSONType,
      }),
    );
    let result: EsdbAppendResult;
    for (let attempt = 0; ; attempt += 1) {
      try {
        result = await this.client.appendToStream(streamId, proposed, { expectedRevision });
        break;
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) {
          return this.conflict(streamId, events, expectedRevision, error.actualVersion);
        }
        // The answer was lost, not the append refused: the write may or may not have
        // landed. With an exact or no_stream revision the server takes the same append
        // again as the idempotent retry of the first, so sending it again is safe.
        if (attempt >= APPEND_RETRIES || !isRetryableAppendFailure(error, expectedRevision)) throw asServiceError(error);
        await new Promise((resolve) => setTimeout(resolve, (this.options.appendRetryDelayMs ?? 100) * (attempt + 1)));
      }
    }

    // With `throwOnAppendFailure=false` in the connection string the client answers a
    // conflict instead of throwing it (and its revision is not to be trusted).
    if (!result.success) return this.conflict(streamId, events, expectedRevision, undefined);

    // The reported position is the last event's. An idempotent answer may come without
    // one: then read the last event back, as the checkpoint must be exactly its.
    const position = result.position;
    if (position !== undefined) {
      return { nextExpectedRevision: result.nextExpectedRevision, globalPosition: position.commit, checkpoint: encodeCheckpoint(position) };
    }
    const [last] = await this.readStream(streamId, { fromRevision: result.nextExpectedRevision, maxCount: 1 });
    if (last === undefined) throw new Error(`stream ${streamId}: revision ${result.nextExpectedRevision} was appended but cannot be read back`);
    return { nextExpectedRevision: last.streamRevision, globalPosition: last.globalPosition, checkpoint: last.checkpoint };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    if (options.maxCount !== undefined && options.maxCount <= 0) return [];
    const read = this.client.readStream(streamId, {
      direction: FORWARDS,
      fromRevision: options.fromRevision ?? START,
      ...(options.maxCount !== undefined ? { maxCount: options.maxCount } : {}),
    });
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of read) {
        const event = toRecordedEvent(resolved);
        if (event !== null) events.push(event);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw asServiceError(error);
    }
    return events;
  }

  async readAll(after: string | null, maxCount: number): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    if (maxCount <= 0) return events;
    // One more than asked for: the record at `cursor` itself may come back first.
    const batchSize = Math.min(this.options.readBatchSize ?? 500, maxCount + 1);
    // Reading from a position may return the record at it: everything at or before
    // `cursor` is skipped, so the read is exclusive whatever the server does.
    let cursor: Position | null = after === null ? null : parseCheckpoint(after);
    for (;;) {
      const read = this.client.readAll({
        direction: FORWARDS,
        fromPosition: cursor ?? START,
        maxCount: batchSize,
      });
      let seen = 0;
      let moved = false;
      for await (const resolved of read) {
        seen += 1;
        const position = resolved.event?.position;
        if (position === undefined) continue;
        if (cursor !== null && comparePositions(position, cursor) <= 0) continue;
        cursor = position;
        moved = true;
        const event = toRecordedEvent(resolved);
        if (event !== null) events.push(event);
        if (events.length >= maxCount) {
          await read.cancel().catch(() => undefined);
          return events;
        }
      }
      // System events use up a read without producing anything for us: read on.
      if (seen < batchSize || !moved) return events;
    }
  }

  subscribeToAll(start: SubscriptionStart, options: SubscribeOptions): Subscription {
    // A bad checkpoint is the caller's mistake: say so now, not as a rejection nobody awaits.
    const startPosition: Position | typeof START | undefined =
      start.from === 'start' ? START : start.from === 'checkpoint' ? parseCheckpoint(start.checkpoint) : undefined;
    const maxBackoffMs = this.options.maxBackoffMs ?? 5000;
    let stopped = false;
    let current: AllStreamSubscription | null = null;
    let cancelHeadRead: (() => void) | null = null;
    const nap = interruptibleSleep(() => stopped);
    const report = (error: unknown): void => {
      try {
        options.onError?.(error);
      } catch {
        // A failing error callback must not end the loop that reports to it.
      }
    };

    const run = async (): Promise<void> => {
      // Where to resubscribe from: the last event delivered, or a later filter checkpoint.
      let from = startPosition;
      let failures = 0;
      while (!stopped) {
        let subscription: AllStreamSubscription | null = null;
        try {
          // 'end' is pinned to a concrete position once, so a resubscription after a
          // fault does not jump over what was appended in between.
          from ??= (await this.headPosition((cancel) => (cancelHeadRead = cancel))) ?? START;
          cancelHeadRead = null;
          if (stopped) break;
          subscription = this.client.subscribeToAll({
            fromPosition: from,
            filter: excludeSystemEvents({
              // The server reports how far its filter has looked, system events included.
              // The report joins the event queue as a marker, so it is taken only once
              // every event before it has been handled: a reconnect then starts there
              // instead of rescanning the system events since our last event.
              checkpointReached: (sub, position) => {
                sub.push(checkpointMarker(position));
              },
            }),
          });
          current = subscription;
          if (stopped) break;
          for await (const item of subscription as AsyncIterable<AllStreamResolvedEvent | CheckpointMarker>) {
            if (stopped) break;
            if (isCheckpointMarker(item)) {
              if (from === START || comparePositions(item.position, from) > 0) from = item.position;
              continue;
            }
            const position = item.event?.position;
            if (position === undefined) continue;
            if (from !== START && comparePositions(position, from) <= 0) continue;
            const event = toRecordedEvent(item);
            if (event !== null) await options.onEvent(event);
            from = position;
            failures = 0;
          }
          if (!stopped) throw new Error('the EventStoreDB subscription ended by itself');
        } catch (error) {
          if (stopped) break;
          report(error);
          failures += 1;
          await nap.sleep(Math.min(maxBackoffMs, 100 * 2 ** failures));
        } finally {
          current = null;
          cancelHeadRead = null;
          if (subscription !== null) await endSubscription(subscription);
        }
      }
    };

    // run() catches what it can; this is the guard against what it cannot, so a fault
    // here never becomes an unhandled rejection that ends the process.
    const running = run().catch((error: unknown) => report(error));
    return {
      stop: async () => {
        stopped = true;
        nap.wake();
        cancelHeadRead?.();
        if (current !== null) await endSubscription(current);
        await running;
      },
    };
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  /**
   * The position of the last record in the log (of any kind); null for an empty log.
   * `onStart` is handed a cancel function that ends the read at once (stop() uses it).
   */
  private async headPosition(onStart: (cancel: () => void) => void, deadlineMs?: number): Promise<Position | null> {
    const read = this.client.readAll({
      direction: BACKWARDS,
      fromPosition: END,
      maxCount: 1,
      ...(deadlineMs !== undefined ? { deadline: deadlineMs } : {}),
    });
    onStart(() => {
      void read.cancel().catch(() => undefined);
      // As with a subscription, cancelling alone leaves the readable open.
      read.destroy();
    });
    try {
      for await (const resolved of read) {
        const position = resolved.event?.position;
        if (position !== undefined) return position;
      }
      return null;
    } finally {
      await read.cancel().catch(() => undefined);
    }
  }

  /**
   * A refused append: the original answer when the revisions it would have taken hold
   * exactly its events (a retry of an append that had landed), else WrongExpectedRevisionError.
   */
  private async conflict(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
    reportedActual: bigint | 'no_stream' | undefined,
  ): Promise<AppendResult> {
    const from = firstRevisionOf(expectedRevision);
    if (from !== null) {
      const there = await this.readStream(streamId, { fromRevision: from, maxCount: events.length });
      if (sameEventIds(there, events)) {
        const last = there.at(-1) as RecordedEvent;
        return { nextExpectedRevision: last.streamRevision, globalPosition: last.globalPosition, checkpoint: last.checkpoint };
      }
    }
    const actual = reportedActual ?? (await this.lastRevision(streamId));
    throw new WrongExpectedRevisionError(streamId, expectedRevision, typeof actual === 'bigint' && actual < 0n ? 'no_stream' : actual);
  }

  private async lastRevision(streamId: string): Promise<bigint | 'no_stream'> {
    const read = this.client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
    try {
      for await (const resolved of read) if (resolved.event !== undefined) return resolved.event.revision;
      return 'no_stream';
    } catch (error) {
      if (error instanceof StreamNotFoundError) return 'no_stream';
      throw error;
    }
  }
}

/** How many times an append whose answer was lost is sent again (see isRetryableAppendFailure). */
export const APPEND_RETRIES = 2;

/**
 * Whether an append that failed this way may be sent again unchanged: the server did
 * not answer (Unavailable, DeadlineExceeded), and the expected revision pins where the
 * events go, so the server recognises a second copy of a write it already made. With
 * `any` a resend after a landed write can duplicate it: never retried.
 */
export function isRetryableAppendFailure(error: unknown, expectedRevision: ExpectedRevision): boolean {
  if (expectedRevision === 'any') return false;
  return isLostAnswer(error);
}

/** gRPC status codes (fixed by the protocol): the server was not reached, or did not answer in time. */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/**
 * The client's Unavailable and DeadlineExceeded errors, and the raw gRPC error it lets
 * through when the connection never came up (its first call, which asks the server what
 * it supports, is not converted: an append to a closed port rejects with a plain Error
 * whose `code` is 14).
 */
function isLostAnswer(error: unknown): boolean {
  if (error instanceof UnavailableError || error instanceof DeadlineExceededError) return true;
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED;
}

/**
 * The server did not answer in time, or cannot be reached: to the service that is the
 * contract's `unavailable` (503, retry), not an internal error. A retried append is
 * safe: with the same events and expected revision it is the idempotent retry the
 * port promises.
 */
function asServiceError(error: unknown): unknown {
  if (!isLostAnswer(error)) return error;
  const failure = new ServiceUnavailableError('the event store did not answer in time; retry in a moment');
  (failure as Error & { cause?: unknown }).cause = error;
  return failure;
}

/** The revision the first event of an append at this expectation lands on; null for `any`. */
export function firstRevisionOf(expectedRevision: ExpectedRevision): bigint | null {
  if (expectedRevision === 'any') return null;
  if (expectedRevision === 'no_stream') return 0n;
  return expectedRevision + 1n;
}

function sameEventIds(recorded: readonly RecordedEvent[], events: readonly EventToAppend[]): boolean {
  return recorded.length === events.length && recorded.every((e, i) => e.eventId.toLowerCase() === events[i]?.eventId.toLowerCase());
}

const CHECKPOINT = Symbol('esdb filter checkpoint');
interface CheckpointMarker {
  [CHECKPOINT]: true;
  position: Position;
}
const checkpointMarker = (position: Position): CheckpointMarker => ({ [CHECKPOINT]: true, position });
const isCheckpointMarker = (item: unknown): item is CheckpointMarker =>
  typeof item === 'object' && item !== null && CHECKPOINT in item;

/**
 * Cancels the gRPC call and ends the readable over it. Cancelling alone is not
 * enough: the client swallows the cancellation error and never ends the readable,
 * so a `for await` over it would wait for ever.
 */
async function endSubscription(subscription: AllStreamSubscription): Promise<void> {
  await subscription.unsubscribe().catch(() => undefined);
  subscription.destroy();
}

function toRecordedEvent(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | null {
  const event = resolved.event;
  if (event === undefined || event.type.startsWith('$') || event.streamId.startsWith('$')) return null;
  if (event.position === undefined) {
    throw new Error('EventStoreDB returned an event without its log position (a server before 22.6?)');
  }
  return {
    streamId: event.streamId,
    streamRevision: event.revision,
    globalPosition: event.position.commit,
    checkpoint: encodeCheckpoint(event.position),
    eventId: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata as unknown as EventMetadata,
  };
}

function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** The connection string without its credentials, for a log line. */
function redactConnectionString(connectionString: string): string {
  return connectionString.replace(/\/\/[^@/]*@/, '//');
}

const CHECKPOINT_PREFIX = 'esdb:';

/** `esdb:commit/prepare`, each as 20 decimal digits, so checkpoints compare as plain strings. */
export function encodeCheckpoint(position: Position): string {
  return `${CHECKPOINT_PREFIX}${position.commit.toString().padStart(20, '0')}/${position.prepare.toString().padStart(20, '0')}`;
}

/** Whether this is one of this adapter's checkpoints (a read model that followed another store holds another kind). */
export function isEventStoreDbCheckpoint(checkpoint: string): boolean {
  return /^esdb:\d{20}\/\d{20}$/.test(checkpoint);
}

/** The position of an EventStoreDB checkpoint; throws on anything else (a PostgreSQL checkpoint included). */
export function parseCheckpoint(checkpoint: string): Position {
  const match = /^esdb:(\d{20})\/(\d{20})$/.exec(checkpoint);
  if (match === null) throw new Error(`not an EventStoreDB checkpoint: ${JSON.stringify(checkpoint.slice(0, 64))}`);
  return { commit: BigInt(match[1] as string), prepare: BigInt(match[2] as string) };
}
