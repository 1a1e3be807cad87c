import type {
  AppendOptions,
  AppendPipeline,
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
import { EventStoreBusyError, WrongExpectedRevisionError } from '../../application/ports/eventStore';
import { GroupCommitter, type CommitContext } from './groupCommit';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { pollingSubscription } from './pollingSubscription';

/**
 * The event store on PostgreSQL, for a server (`pg`) or embedded (PGlite) alike.
 *
 * Ordering. A bigserial position is taken when a row is inserted, not when its
 * transaction commits: were two appending transactions to overlap, a reader could see
 * position 7 (committed) while 6 was still in flight, pass it, and never see 6
 * (Marten #1879, Emmett PR #336). So appending transactions never overlap: each takes
 * one advisory lock, the append lock, before it reads or writes anything, and holds it
 * until it has committed. Positions are therefore handed out in commit order, a
 * transaction's rows become visible all at once and before the next appender can take
 * a position, and a reader following positions (`global_position > checkpoint`) can
 * never pass a row that is still to appear. Nothing else on the server takes part:
 * a long transaction in another database, or a reader in this one, holds nothing back.
 *
 * Throughput comes from group commit (groupCommit.ts): the appends that arrive while a
 * commit is in flight share the next transaction, so the lock is taken once per batch,
 * not once per event. The whole transaction is one statement, `append_events` (schema
 * migration 13): the lock, each append's expected revision and idempotency check, one
 * multi-row INSERT and the commit cost one round trip, and one refused append fails
 * alone. With `maxBatchesInFlight` 2 the next batch is sent while the previous one
 * commits; it waits for the append lock on the server, and appends to a stream with an
 * append in the batch in flight stay behind until that batch has answered.
 */
export class PostgresEventStore implements EventStore {
  static readonly notifyChannel = 'chat_events';
  private readonly committer: GroupCommitter<AppendRequest, AppendResult>;
  private submitted = 0;

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: PostgresEventStoreOptions = {},
  ) {
    this.committer = new GroupCommitter({
      commit: (batch, context) => this.commitBatch(batch, context),
      weight: (request) => request.events.length,
      maxBatchWeight: options.maxBatchEvents ?? 1000,
      maxQueued: options.maxQueuedAppends ?? 10_000,
      maxWaitMs: options.maxAppendWaitMs ?? 500,
      onDropped: (request) => this.breakPipeline(request),
      maxInFlight: options.maxBatchesInFlight ?? DEFAULT_BATCHES_IN_FLIGHT,
      // A stream's appends wait for the outcome of its appends in flight: a pipeline's
      // refusals are decided here, and appends to one stream commit in the order made.
      orderKey: (request) => request.streamId,
    });
  }

  /**
   * Appends to one stream commit in the order they were made (one queue, batches in
   * order), so a writer may pipeline them: see `EventStore.pipeline`.
   */
  pipeline(streamId: string): AppendPipeline {
    return new PostgresAppendPipeline(streamId);
  }

  appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    if (events.length === 0) return Promise.reject(new Error('appendToStream needs at least one event'));
    // Refused alone here: in the batch, the unique index would fail every append with it.
    const repeated = repeatedEventId(events);
    if (repeated !== null) return Promise.reject(new Error(`appendToStream: event id ${repeated} appears twice in one append`));
    const pipeline = options.pipeline ?? null;
    if (pipeline !== null && !(pipeline instanceof PostgresAppendPipeline && pipeline.streamId === streamId)) {
      return Promise.reject(new Error(`not a pipeline of this store for stream ${streamId}`));
    }
    const request: AppendRequest = { streamId, events, expectedRevision, seq: ++this.submitted, pipeline };
    const submitted = this.committer.submit(request);
    submitted.catch(() => this.breakPipeline(request));
    return submitted;
  }

  /** `request` was refused or was a repeat: the appends made behind it in its pipeline are refused. */
  private breakPipeline(request: AppendRequest): void {
    request.pipeline?.breakAt(request.seq);
  }

  /** Appends waiting for the next commit (a gauge for operators). */
  get queuedAppends(): number {
    return this.committer.queued;
  }

  /**
   * One batch, one statement: `append_events` (schema migration 13) takes the append
   * lock, decides each append and inserts, and its implicit transaction commits when the
   * statement ends, so a group commit is one round trip. Only what this process alone
   * knows is decided here: which appends a broken pipeline refuses.
   */
  private async commitBatch(batch: readonly AppendRequest[], context: CommitContext): Promise<AppendOutcome[]> {
    const pipelineNumbers = new Map<PostgresAppendPipeline, number>();
    const args = {
      streams: [] as string[],
      expected: [] as Array<string | null>,
      counts: [] as number[],
      pipelines: [] as Array<number | null>,
      refused: [] as boolean[],
      ids: [] as string[],
      types: [] as string[],
      data: [] as string[],
      metadata: [] as string[],
    };
    for (const request of batch) {
      args.streams.push(request.streamId);
      args.expected.push(encodeExpected(request.expectedRevision));
      args.counts.push(request.events.length);
      const pipeline = request.pipeline;
      if (pipeline !== null && !pipelineNumbers.has(pipeline)) pipelineNumbers.set(pipeline, pipelineNumbers.size + 1);
      args.pipelines.push(pipeline === null ? null : (pipelineNumbers.get(pipeline) as number));
      args.refused.push(pipeline?.refuses(request.seq) === true);
      for (const event of request.events) {
        args.ids.push(event.eventId);
        args.types.push(event.type);
        args.data.push(JSON.stringify(event.data));
        args.metadata.push(JSON.stringify(event.metadata));
      }
    }
    let rows: AppendRow[];
    try {
      const result = await this.db.query<AppendRow>(
        `SELECT result_outcome AS outcome, result_revision::text AS revision, result_position::text AS position
           FROM append_events($1::text[], $2::bigint[], $3::integer[], $4::integer[], $5::boolean[],
                              $6::uuid[], $7::text[], $8::jsonb[], $9::jsonb[], $10::text, $11::integer)`,
        [
          ...[args.streams, args.expected, args.counts, args.pipelines, args.refused],
          ...[args.ids, args.types, args.data, args.metadata],
          PostgresEventStore.notifyChannel,
          context.startWithinMs === null ? null : Math.ceil(context.startWithinMs),
        ],
      );
      rows = result.rows;
    } catch (error) {
      // The batch failed whole (nothing written; or, when the answer was lost, not known):
      // the appends behind these in their pipelines are refused before anything else is
      // decided. A retry with the same events and expected revision is safe either way.
      for (const request of batch) this.breakPipeline(request);
      // Sent behind a commit that took too long: refused as it would have been in the queue.
      if (context.startWithinMs !== null && (error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) {
        throw new EventStoreBusyError('the event store is behind: the append waited too long');
      }
      throw error;
    }
    if (rows.length !== batch.length) throw new Error(`append_events answered ${rows.length} outcomes for ${batch.length} appends`);
    return batch.map((request, i) => {
      const row = rows[i] as AppendRow;
      if (row.outcome === 'appended') return { ok: true, value: toAppendResult(row as RowPosition) };
      // A refusal or a repeat: the appends made behind it in its pipeline are refused
      // (before the next batch is decided, so it sees the break).
      this.breakPipeline(request);
      if (row.outcome === 'repeat') return { ok: true, value: toAppendResult(row as RowPosition) };
      const actual = row.revision === null ? 'no_stream' : BigInt(row.revision);
      return { ok: false, error: new WrongExpectedRevisionError(request.streamId, request.expectedRevision, actual) };
    });
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const result = await this.db.query<EventRow>(
      `SELECT ${eventColumns} FROM events
        WHERE stream_id = $1 AND stream_revision >= $2::bigint
        ORDER BY events.stream_revision LIMIT $3`,
      [streamId, String(options.fromRevision ?? 0n), options.maxCount ?? 2_147_483_647],
    );
    return result.rows.map(toRecordedEvent);
  }

  async readAll(after: string | null, maxCount: number): Promise<RecordedEvent[]> {
    const result = await this.db.query<EventRow>(
      `SELECT ${eventColumns} FROM events WHERE global_position > $1::bigint ORDER BY events.global_position LIMIT $2`,
      [after === null ? '0' : parseCheckpoint(after).toString(), maxCount],
    );
    return result.rows.map(toRecordedEvent);
  }

  /** The checkpoint of the last committed event (null: the store is empty). */
  async headCheckpoint(): Promise<string | null> {
    const result = await this.db.query<{ position: string | null }>(`SELECT max(global_position)::text AS position FROM events`);
    const position = result.rows[0]?.position ?? null;
    return position === null ? null : encodeCheckpoint(BigInt(position));
  }

  subscribeToAll(start: SubscriptionStart, options: SubscribeOptions): Subscription {
    return pollingSubscription({
      start,
      readAll: (after, maxCount) => this.readAll(after, maxCount),
      head: () => this.headCheckpoint(),
      listen: (wake) => this.db.listen(PostgresEventStore.notifyChannel, wake),
      pollIntervalMs: this.options.pollIntervalMs ?? 200,
      ...options,
    });
  }

  onAppended(wake: () => void): Promise<() => Promise<void>> {
    return this.db.listen(PostgresEventStore.notifyChannel, wake);
  }

  async close(): Promise<void> {
    // The database belongs to whoever made it; the store has nothing of its own to close.
  }
}

export interface PostgresEventStoreOptions {
  /** Fallback poll of subscriptions when a notification is missed. */
  pollIntervalMs?: number;
  /** The most events one group commit writes. */
  maxBatchEvents?: number;
  /** Appends waiting for a commit before new ones are refused as busy. */
  maxQueuedAppends?: number;
  /** An append that waited this long for its commit is refused as busy. */
  maxAppendWaitMs?: number;
  /** Group commits sent at once: 2 sends the next batch while the previous one commits. */
  maxBatchesInFlight?: number;
}

/** Decided by `npm run bench:store` (docs/performance.md, "The event store alone"). */
const DEFAULT_BATCHES_IN_FLIGHT = 1;

/** PostgreSQL's lock_not_available: the append lock was not granted within `lock_wait_ms`. */
const LOCK_NOT_AVAILABLE = '55P03';

/** `append_events`'s answer for one append (the migration says what each outcome means). */
interface AppendRow {
  outcome: 'appended' | 'repeat' | 'conflict';
  revision: string | null;
  position: string | null;
}

function repeatedEventId(events: readonly EventToAppend[]): string | null {
  const seen = new Set<string>();
  for (const event of events) {
    if (seen.has(event.eventId)) return event.eventId;
    seen.add(event.eventId);
  }
  return null;
}

/** The expected revision as append_events takes it: the exact revision, -1 for no stream, null for any. */
function encodeExpected(expected: ExpectedRevision): string | null {
  if (expected === 'any') return null;
  if (expected === 'no_stream') return '-1';
  return expected.toString();
}

interface AppendRequest {
  streamId: string;
  events: readonly EventToAppend[];
  expectedRevision: ExpectedRevision;
  /** Submission number: batches keep this order. */
  seq: number;
  /** The pipeline the append continues (AppendOptions.pipeline); null: on its own. */
  pipeline: PostgresAppendPipeline | null;
}

/**
 * A run of appends to one stream, each decided on the outcome of the ones made before it
 * through the same handle. Once one of them is refused or turns out a repeat, every one
 * submitted after it is refused (a writer that decides again starts a new pipeline).
 */
class PostgresAppendPipeline implements AppendPipeline {
  /** The submission number of its first append that was refused or was a repeat; null: none. */
  private brokenSince: number | null = null;

  constructor(readonly streamId: string) {}

  breakAt(seq: number): void {
    if (this.brokenSince === null || seq < this.brokenSince) this.brokenSince = seq;
  }

  /** Whether the append submitted as `seq` must be refused: one made before it in this pipeline went wrong. */
  refuses(seq: number): boolean {
    return this.brokenSince !== null && seq > this.brokenSince;
  }
}

type AppendOutcome = { ok: true; value: AppendResult } | { ok: false; error: unknown };

interface RowPosition {
  revision: string;
  position: string;
}

interface EventRow {
  stream_revision: string;
  global_position: string;
  stream_id: string;
  event_id: string;
  event_type: string;
  data: unknown;
  metadata: EventMetadata;
}

/**
 * Big numbers leave as text (see sqlDatabase.ts), under their own names. An ORDER BY
 * must therefore name the table's column (`events.stream_revision`): a bare name means
 * the output column, the text, and '10' sorts before '9'.
 */
const eventColumns = `stream_id, stream_revision::text, global_position::text, event_id::text, event_type, data, metadata`;

function toAppendResult(row: RowPosition): AppendResult {
  const position = BigInt(row.position);
  return { nextExpectedRevision: BigInt(row.revision), globalPosition: position, checkpoint: encodeCheckpoint(position) };
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    streamRevision: BigInt(row.stream_revision),
    globalPosition: BigInt(row.global_position),
    checkpoint: encodeCheckpoint(BigInt(row.global_position)),
    eventId: row.event_id,
    type: row.event_type,
    data: typeof row.data === 'string' ? JSON.parse(row.data) : row.data,
    metadata: typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata,
  };
}

/** Fixed-width decimal digits, so checkpoints compare as plain strings. */
export function encodeCheckpoint(position: bigint): string {
  return position.toString().padStart(20, '0');
}

/**
 * A checkpoint of this store. Checkpoints written before positions were handed out in
 * commit order (`<transaction id>/<position>`) are refused: a reader must start again
 * from a checkpoint of today's form (the projection rebuilds, see projectionRunner.ts).
 */
export function parseCheckpoint(checkpoint: string): bigint {
  if (!isPostgresCheckpoint(checkpoint)) throw new Error(`not a PostgreSQL event store checkpoint: ${checkpoint}`);
  return BigInt(checkpoint);
}

export function isPostgresCheckpoint(checkpoint: string): boolean {
  return /^\d{20}$/.test(checkpoint);
}
