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
import { interruptibleSleep } from './interruptibleSleep';

/**
 * The event store on EventStoreDB (gRPC client v6).
 *
 * Positions. A global position is EventStoreDB's (commit, prepare) pair. The
 * checkpoint writes both as 20 decimal digits, `commit/prepare`, so checkpoints
 * compare as strings exactly as positions compare as pairs. Positions stay bigint
 * from the wire to the string and back: they pass 2^53 on a large log.
 *
 * Idempotence. Each event is sent with its own id, and EventStoreDB treats a retry of
 * an append it already holds as a success that writes nothing. Its own check covers
 * the retry of the same call (the same expected revision, or `any` while the id is in
 * its recent-writes cache). When the server refuses an append as a wrong expected
 * revision, we look at the stream: if every id is already there, the append had
 * happened, and we answer as for the original. Not covered: re-appending an old id
 * with the stream's *current* revision (EventStoreDB writes it again), or with `any`
 * once the server has forgotten the id; no caller in this service does either.
 *
 * System events (`$`-types, links, `$`-streams) never leave this adapter.
 */
export class EventStoreDbEventStore implements EventStore {
  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: { readBatchSize?: number; maxBackoffMs?: number } = {},
  ) {}

  static connect(connectionString: string): EventStoreDbEventStore {
    return new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString));
  }

  async appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    let result: EsdbAppendResult;
    try {
      result = await this.client.appendToStream(
        streamId,
        events.map((event) =>
          jsonEvent({
            id: event.eventId,
            type: event.type,
            data: event.data as JSONType,
            metadata: event.metadata as unknown as JSONType,
          }),
        ),
        { expectedRevision },
      );
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      const already = await this.alreadyAppended(streamId, events);
      if (already !== null) return already;
      const actual = error.actualVersion;
      throw new WrongExpectedRevisionError(streamId, expectedRevision, typeof actual === 'bigint' && actual < 0n ? 'no_stream' : actual);
    }

    // A single event's append reports that event's own position. For a batch (or an
    // idempotent answer without a position) read the last event back rather than
    // guess which record the reported position names: the checkpoint must be exactly
    // the last event's, or a reader waiting for it would wait for the next event.
    const position = result.position;
    if (events.length === 1 && position !== undefined && position.commit === position.prepare) {
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
      throw error;
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
    const maxBackoffMs = this.options.maxBackoffMs ?? 5000;
    let stopped = false;
    let current: AllStreamSubscription | null = null;
    const nap = interruptibleSleep(() => stopped);
    const pause = nap.sleep;

    const run = async (): Promise<void> => {
      // The position of the last event delivered (or the start point): always resubscribe from here.
      let from: Position | typeof START | undefined =
        start.from === 'start' ? START : start.from === 'checkpoint' ? parseCheckpoint(start.checkpoint) : undefined;
      let failures = 0;
      while (!stopped) {
        let subscription: AllStreamSubscription | null = null;
        try {
          // 'end' is pinned to a concrete position once, so a resubscription after a
          // fault does not jump over what was appended in between.
          from ??= (await this.headPosition()) ?? START;
          subscription = this.client.subscribeToAll({ fromPosition: from, filter: excludeSystemEvents() });
          current = subscription;
          if (stopped) break;
          for await (const resolved of subscription) {
            if (stopped) break;
            const position = resolved.event?.position;
            if (position === undefined) continue;
            if (from !== START && comparePositions(position, from) <= 0) continue;
            const event = toRecordedEvent(resolved);
            if (event !== null) await options.onEvent(event);
            from = position;
            failures = 0;
          }
          if (!stopped) throw new Error('the EventStoreDB subscription ended by itself');
        } catch (error) {
          if (stopped) break;
          options.onError?.(error);
          failures += 1;
          await pause(Math.min(maxBackoffMs, 100 * 2 ** failures));
        } finally {
          current = null;
          if (subscription !== null) await endSubscription(subscription);
        }
      }
    };

    const running = run();
    return {
      stop: async () => {
        stopped = true;
        nap.wake();
        if (current !== null) await endSubscription(current);
        await running;
      },
    };
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  /** The position of the last record in the log (of any kind); null for an empty log. */
  private async headPosition(): Promise<Position | null> {
    const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 });
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

  /** The append's answer when every one of its events is already in the stream; null otherwise. */
  private async alreadyAppended(streamId: string, events: readonly EventToAppend[]): Promise<AppendResult | null> {
    const wanted = new Set(events.map((e) => e.eventId.toLowerCase()));
    let last: RecordedEvent | null = null;
    let found = 0;
    for (const event of await this.readStream(streamId)) {
      if (!wanted.has(event.eventId.toLowerCase())) continue;
      found += 1;
      last = event;
    }
    if (last === null || found < wanted.size) return null;
    return { nextExpectedRevision: last.streamRevision, globalPosition: last.globalPosition, checkpoint: last.checkpoint };
  }
}

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

/** `commit/prepare`, each as 20 decimal digits, so checkpoints compare as plain strings. */
export function encodeCheckpoint(position: Position): string {
  return `${position.commit.toString().padStart(20, '0')}/${position.prepare.toString().padStart(20, '0')}`;
}

export function parseCheckpoint(checkpoint: string): Position {
  const match = /^(\d{20})\/(\d{20})$/.exec(checkpoint);
  if (match === null) throw new Error(`not an EventStoreDB checkpoint: ${checkpoint}`);
  return { commit: BigInt(match[1] as string), prepare: BigInt(match[2] as string) };
}
