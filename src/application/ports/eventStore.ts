import { UnavailableError } from '../unavailable';

/**
 * The event store port. Every adapter (PostgreSQL, embedded PGlite, EventStoreDB)
 * keeps the same promises, checked by one contract suite (test/infrastructure/eventStore).
 */

/** What the writer believes about the stream: absent, anything, or exactly at this revision. */
export type ExpectedRevision = 'no_stream' | 'any' | bigint;

export interface EventMetadata {
  actorId: string;
  correlationId: string;
  causationId: string;
  recordedAt: string;
  /** Tamper evidence: the previous event's hash in this stream (64 zeros for the first). */
  prevHash: string;
  /** SHA-256 over `prevHash` and this event's canonical JSON. */
  hash: string;
  [key: string]: unknown;
}

export interface EventToAppend {
  /**
   * A UUID. The retry of an append, with the same events and the *same* exact or
   * no_stream expected revision, is a no-op that answers as the original did, even
   * after the stream has moved on: a writer whose answer was lost may send it again.
   * Nothing more is promised for an id already in the stream: EventStoreDB writes it
   * again when it comes with the stream's current revision or with `any`.
   */
  eventId: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface RecordedEvent {
  streamId: string;
  /** 0-based position of the event in its stream. */
  streamRevision: bigint;
  /** Position in the store's global order (EventStoreDB's commit position). */
  globalPosition: bigint;
  /**
   * An opaque, fixed-width string that sorts like the store's global order:
   * subscribe from it to get every later event. Compare checkpoints as strings.
   */
  checkpoint: string;
  eventId: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface AppendResult {
  /** The revision of the last event now in the stream: pass it as the next expected revision. */
  nextExpectedRevision: bigint;
  globalPosition: bigint;
  checkpoint: string;
}

export interface ReadStreamOptions {
  fromRevision?: bigint;
  maxCount?: number;
}

export type SubscriptionStart = { from: 'start' } | { from: 'end' } | { from: 'checkpoint'; checkpoint: string };

export interface Subscription {
  /** Stops delivery; resolves once the handler will not be called again. */
  stop(): Promise<void>;
}

export interface SubscribeOptions {
  /** Called for each event, in order; the next is delivered only after this resolves. */
  onEvent(event: RecordedEvent): Promise<void>;
  /** A delivery or connection fault; the adapter resubscribes from its last checkpoint on its own. */
  onError?(error: unknown): void;
}

/**
 * A run of appends to one stream, made one behind the other without waiting for their
 * answers, each decided on the outcome of those made before it (see `EventStore.pipeline`).
 * Opaque: only the store that made it reads it.
 */
export interface AppendPipeline {
  readonly streamId: string;
}

export interface AppendOptions {
  /**
   * The pipeline (from this store's `pipeline`) this append continues: it is refused, as a
   * wrong expected revision, if an append made before it in the pipeline was refused or
   * turned out to be a repeat.
   */
  pipeline?: AppendPipeline;
}

export interface EventStore {
  /**
   * Present when the store commits appends to one stream, made through this object, in
   * the order they were made: a writer may then append again before the previous append
   * has answered (pipelining), instead of one at a time. A fresh append, decided on
   * stored state, starts a new pipeline; appends decided on it, still pending, continue it
   * (`AppendOptions.pipeline`). Absent: no pipelining.
   */
  pipeline?(streamId: string): AppendPipeline;
  appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /** Events of one stream in revision order; an empty list for a stream that does not exist. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Up to `maxCount` committed events after `after` (null: from the start), in global order. */
  readAll(after: string | null, maxCount: number): Promise<RecordedEvent[]>;
  /** Every committed event after the start point, once, in global order. */
  subscribeToAll(start: SubscriptionStart, options: SubscribeOptions): Subscription;
  /**
   * Optional: calls `wake` (with no event) whenever something may have been appended,
   * for followers that read for themselves and only need a doorbell. Resolves to the
   * function that stops it. A store without a cheap signal leaves it out.
   */
  onAppended?(wake: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** The stream was not where the writer expected it; nothing was written. */
export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: bigint | 'no_stream',
  ) {
    super(`stream ${streamId}: expected revision ${String(expected)}, but it is at ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

export const NO_PREVIOUS_HASH = '0'.repeat(64);

/**
 * The store cannot take the append in time (too many waiting, or it waited too long):
 * nothing was written, and the caller may retry later. Answered as `unavailable`.
 */
export class EventStoreBusyError extends UnavailableError {}
