import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamNotFoundError,
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
// The client's unary append (one gRPC call per append), not its batch append: see below.
import { append as unaryAppend } from '@eventstore/db-client/dist/streams/appendToStream/append';
import { clockSkewWarning, readServerClock } from './eventStoreDbClock';
import { asServiceError, isRetryableAppendFailure } from './eventStoreDbFailures';
import { watched } from './eventStoreDbWatchdog';
import { interruptibleSleep } from './interruptibleSleep';

export { isRetryableAppendFailure } from './eventStoreDbFailures';

export interface EventStoreDbOptions {
  /** Events per `$all` read. Default 500. */
  readBatchSize?: number;
  /** The longest pause between two resubscriptions. Default 5 s. */
  maxBackoffMs?: number;
  /** The pause before the first resend of an append that got no answer (doubling after). Default 100 ms. */
  appendRetryDelayMs?: number;
  /** The gRPC deadline of one append attempt. Default 10 s. */
  appendDeadlineMs?: number;
  /** A read that gets nothing from the server for this long is abandoned as `unavailable`. Default 10 s. */
  readIdleTimeoutMs?: number;
  /** How long a subscription may hear nothing before it checks that the server still answers. Default 15 s. */
  subscriptionWatchdogMs?: number;
}

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
 * Appends go through the client's unary `append`, never its `batchAppend` (which
 * `client.appendToStream` picks on any server that offers it). The batch path keeps one
 * process-wide map of waiting appends: a broken connection empties it, and a reply that
 * comes afterwards throws a TypeError inside a stream handler, while a queued write
 * rejected under load becomes an unhandled rejection — on Node 20 both end the process
 * (fixed upstream only in `@kurrent/kurrentdb-client`). The unary call has its own
 * callback and its own relative deadline (`grpc-timeout`), so neither fault, nor the
 * batch path's absolute deadline compared with the server's clock, can reach us.
 *
 * Every read is watched (`watched`): the client reads with no deadline at all.
 *
 * System events (`$`-types, links, `$`-streams) never leave this adapter.
 */
export class EventStoreDbEventStore implements EventStore {
  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: EventStoreDbOptions = {},
  ) {}

  private get readIdleTimeoutMs(): number {
    return this.options.readIdleTimeoutMs ?? 10_000;
  }

  static connect(connectionString: string): EventStoreDbEventStore {
    return new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString));
  }

  /**
   * Connects and asks the server for the head of its log once, so a wrong address, a
   * TLS mismatch or a server that is down stops start-up with one line, instead of
   * surfacing later as failed appends and a silent projection. Then compares the
   * server's clock with ours and hands `warn` a line when they differ by more than a
   * second (docs/event-store.md, "Clocks").
   */
  static async open(
    connectionString: string,
    probeTimeoutMs = 10_000,
    warn: (message: string) => void = () => undefined,
    options: EventStoreDbOptions = {},
  ): Promise<EventStoreDbEventStore> {
    const store = new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString), options);
    try {
      // The client reads with no deadline: the head read is watched instead, so a
      // server that accepts the connection and never answers cannot hold start-up.
      await store.headPosition(() => undefined, probeTimeoutMs);
    } catch (error) {
      await store.close().catch(() => undefined);
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(`EventStoreDB at ${redactConnectionString(connectionString)} did not answer: ${reason}`);
    }
    const reading = await readServerClock(store.client, probeTimeoutMs);
    const skew = reading === null ? null : clockSkewWarning(reading);
    if (skew !== null) warn(skew);
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
        result = await unaryAppend.call(this.client, streamId, proposed, {
          expectedRevision,
          batchAppendSize: BATCH_APPEND_SIZE,
          deadline: this.options.appendDeadlineMs ?? 10_000,
        });
        break;
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) {
          return this.conflict(streamId, events, expectedRevision, error.actualVersion);
        }
        // Not taken (not ready, busy, not the leader) or no answer (the write may or may
        // not have landed): with an exact or no_stream revision the server takes the
        // same append again as the idempotent retry of the first, so resending is safe.
        if (attempt >= APPEND_RETRIES || !isRetryableAppendFailure(error, expectedRevision)) throw asServiceError(error);
        await new Promise((resolve) => setTimeout(resolve, (this.options.appendRetryDelayMs ?? 100) * 2 ** attempt));
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
      for await (const resolved of watched(read, this.readIdleTimeoutMs, `a read of ${streamId}`)) {
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
    try {
      return await this.readAllPages(after, maxCount);
    } catch (error) {
      throw asServiceError(error);
    }
  }

  private async readAllPages(after: string | null, maxCount: number): Promise<RecordedEvent[]> {
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
      for await (const resolved of watched(read, this.readIdleTimeoutMs, 'a read of $all')) {
        seen += 1;
        const position = resolved.event?.position;
        if (position === undefined) continue;
        if (cursor !== null && comparePositions(position, cursor) <= 0) continue;
        cursor = position;
        moved = true;
        const event = toRecordedEvent(resolved);
        if (event !== null) events.push(event);
        // Leaving the loop cancels the rest of the read.
        if (events.length >= maxCount) return events;
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

    // Where to resubscribe from: the last event delivered, or a later filter checkpoint.
    let from = startPosition;

    // The watchdog. A subscription has no deadline (and a quiet log sends nothing), so
    // a server that keeps the connection alive but no longer serves it would leave us
    // waiting for ever. When the subscription has heard nothing for a while and is not
    // busy with an event, the watchdog reads the head of the log: a read that gets no
    // answer, or one of our events that the subscription has not delivered at two checks
    // in a row, ends the subscription, and the loop reports why and resubscribes.
    const watchdogMs = this.options.subscriptionWatchdogMs ?? 15_000;
    let lastHeard = Date.now();
    let handling = false;
    let probing = false;
    let behindOnce = false;
    let tripped: unknown = null;
    const trip = (reason: unknown): void => {
      if (stopped || current === null) return;
      tripped = reason;
      behindOnce = false;
      void endSubscription(current);
    };
    const check = async (): Promise<void> => {
      if (stopped || probing || handling || current === null || Date.now() - lastHeard < watchdogMs) return;
      probing = true;
      try {
        const last = await this.lastOwnEventPosition();
        const behind = last !== null && from !== undefined && (from === START || comparePositions(last, from) > 0);
        if (!behind) behindOnce = false;
        else if (!behindOnce) behindOnce = true;
        else trip(new Error(`the EventStoreDB subscription delivered nothing for ${watchdogMs} ms while the log holds later events`));
      } catch (error) {
        trip(error);
      } finally {
        probing = false;
      }
    };
    const watchdog = setInterval(() => void check(), watchdogMs);
    watchdog.unref();

    const run = async (): Promise<void> => {
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
          lastHeard = Date.now();
          if (stopped) break;
          for await (const item of subscription as AsyncIterable<AllStreamResolvedEvent | CheckpointMarker>) {
            lastHeard = Date.now();
            if (stopped) break;
            if (isCheckpointMarker(item)) {
              if (from === START || comparePositions(item.position, from) > 0) from = item.position;
              continue;
            }
            const position = item.event?.position;
            if (position === undefined) continue;
            if (from !== START && comparePositions(position, from) <= 0) continue;
            const event = toRecordedEvent(item);
            if (event !== null) {
              handling = true;
              try {
                await options.onEvent(event);
              } finally {
                handling = false;
                lastHeard = Date.now();
              }
            }
            from = position;
            failures = 0;
          }
          if (!stopped) throw new Error('the EventStoreDB subscription ended by itself');
        } catch (error) {
          if (stopped) break;
          report(tripped ?? error);
          tripped = null;
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
        clearInterval(watchdog);
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
   * The read gives up after `idleMs` without an answer (the client sets no deadline).
   */
  private async headPosition(onStart: (cancel: () => void) => void, idleMs = this.readIdleTimeoutMs): Promise<Position | null> {
    const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 });
    onStart(() => {
      read.on('error', () => undefined);
      void read.cancel().catch(() => undefined);
      // As with a subscription, cancelling alone leaves the readable open.
      read.destroy();
    });
    for await (const resolved of watched(read, idleMs, 'a read of the head of $all')) {
      const position = resolved.event?.position;
      if (position !== undefined) return position;
    }
    return null;
  }

  /**
   * The position of the last event of ours among the last few records of the log (null
   * when those are all system records): what a healthy subscription must have delivered.
   */
  private async lastOwnEventPosition(): Promise<Position | null> {
    const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: WATCHDOG_LOOKBACK });
    for await (const resolved of watched(read, this.readIdleTimeoutMs, 'a read of the head of $all')) {
      if (toRecordedEvent(resolved) !== null && resolved.event?.position !== undefined) return resolved.event.position;
    }
    return null;
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
      for await (const resolved of watched(read, this.readIdleTimeoutMs, `a read of ${streamId}`)) {
        if (resolved.event !== undefined) return resolved.event.revision;
      }
      return 'no_stream';
    } catch (error) {
      if (error instanceof StreamNotFoundError) return 'no_stream';
      throw asServiceError(error);
    }
  }
}

/** How many records back from the head the subscription watchdog looks for an event of ours. */
const WATCHDOG_LOOKBACK = 20;

/** How many times an append that was not taken or got no answer is sent again (see isRetryableAppendFailure). */
export const APPEND_RETRIES = 2;

/** Required by the client's append signature; the unary append does not split. */
const BATCH_APPEND_SIZE = 3 * 1024 * 1024;

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
