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
import { WrongExpectedRevisionError } from '../../application/ports/eventStore';
import { GroupCommitter } from './groupCommit';
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
 * commit is in flight share the next transaction, one multi-row INSERT and one commit,
 * so the lock is taken once per batch, not once per event. Each append's expected
 * revision and idempotency are checked inside that transaction, and one refused
 * append fails alone.
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
      commit: (batch) => this.commitBatch(batch),
      weight: (request) => request.events.length,
      maxBatchWeight: options.maxBatchEvents ?? 1000,
      maxQueued: options.maxQueuedAppends ?? 10_000,
      maxWaitMs: options.maxAppendWaitMs ?? 500,
      onDropped: (request) => this.breakPipeline(request),
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

  private commitBatch(batch: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    return this.db.transaction(async (tx) => {
      const streams = [...new Set(batch.map((r) => r.streamId))];
      const idStreams: string[] = [];
      const ids: string[] = [];
      for (const r of batch) {
        for (const e of r.events) {
          idStreams.push(r.streamId);
          ids.push(e.eventId);
        }
      }
      const known = await tx.query<{ kind: 'revision' | 'event'; stream_id: string; event_id: string | null; stream_revision: string | null; global_position: string | null }>(
        `SELECT 'revision' AS kind, s.stream_id, NULL AS event_id,
                (SELECT max(e.stream_revision) FROM events e WHERE e.stream_id = s.stream_id)::text AS stream_revision,
                NULL AS global_position
           FROM unnest($1::text[]) AS s(stream_id)
         UNION ALL
         SELECT 'event', e.stream_id, e.event_id::text, e.stream_revision::text, e.global_position::text
           FROM events e JOIN unnest($2::text[], $3::uuid[]) AS k(stream_id, event_id)
             ON e.stream_id = k.stream_id AND e.event_id = k.event_id`,
        [streams, idStreams, ids],
      );
      const revisions = new Map<string, bigint | 'no_stream'>();
      const stored = new Map<string, RowPosition>();
      for (const row of known.rows) {
        if (row.kind === 'revision') revisions.set(row.stream_id, row.stream_revision == null ? 'no_stream' : BigInt(row.stream_revision));
        else stored.set(`${row.stream_id}\u0000${row.event_id}`, row as RowPosition);
      }

      // Decide each append in arrival order, as if they had come one by one.
      const outcomes: Array<AppendOutcome | { insertAt: number; count: number }> = [];
      const rows: InsertRows = { stream: [], revision: [], id: [], type: [], data: [], metadata: [] };
      const inBatch = new Set<string>();
      for (const request of batch) {
        const keys = request.events.map((e) => `${request.streamId}\u0000${e.eventId}`);
        const already = keys.map((k) => stored.get(k));
        const current = revisions.get(request.streamId) ?? 'no_stream';
        if (request.pipeline?.refuses(request.seq) === true) {
          outcomes.push({ ok: false, error: new WrongExpectedRevisionError(request.streamId, request.expectedRevision, current) });
          continue;
        }
        if (already.every((row) => row !== undefined) && !keys.some((k) => inBatch.has(k))) {
          // Every id is in the stream already: a retry of an append that succeeded. The
          // stream did not move as appends made after this one may have assumed.
          this.breakPipeline(request);
          outcomes.push({ ok: true, value: toAppendResult(lastOf(already as Array<RowPosition>)) });
          continue;
        }
        if (already.some((row) => row !== undefined) || keys.some((k) => inBatch.has(k)) || !meets(request.expectedRevision, current)) {
          this.breakPipeline(request);
          outcomes.push({ ok: false, error: new WrongExpectedRevisionError(request.streamId, request.expectedRevision, current) });
          continue;
        }
        const first = current === 'no_stream' ? 0n : current + 1n;
        outcomes.push({ insertAt: rows.stream.length, count: request.events.length });
        request.events.forEach((event, i) => {
          rows.stream.push(request.streamId);
          rows.revision.push(String(first + BigInt(i)));
          rows.id.push(event.eventId);
          rows.type.push(event.type);
          rows.data.push(JSON.stringify(event.data));
          rows.metadata.push(JSON.stringify(event.metadata));
        });
        for (const k of keys) inBatch.add(k);
        revisions.set(request.streamId, first + BigInt(request.events.length - 1));
      }
      if (rows.stream.length === 0) return outcomes as AppendOutcome[];

      // The notification goes with the insert (a one-row subquery, run once): a round trip less.
      const inserted = await tx.query<{ global_position: string }>(
        `WITH inserted AS (
           INSERT INTO events (stream_id, stream_revision, event_id, event_type, data, metadata)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[])
           RETURNING global_position
         )
         SELECT inserted.global_position::text FROM inserted, (SELECT pg_notify($7, '')) AS notified`,
        [rows.stream, rows.revision, rows.id, rows.type, rows.data, rows.metadata, PostgresEventStore.notifyChannel],
      );
      // RETURNING gives the rows in the order unnest produced them; positions grow the same way.
      const positions = inserted.rows.map((r) => BigInt(r.global_position)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return outcomes.map((outcome) => {
        if (!('insertAt' in outcome)) return outcome;
        const at = outcome.insertAt + outcome.count - 1;
        const position = positions[at] as bigint;
        return {
          ok: true,
          value: { nextExpectedRevision: BigInt(rows.revision[at] as string), globalPosition: position, checkpoint: encodeCheckpoint(position) },
        };
      });
      // Before anything else in the transaction: the append lock (see the class comment).
    }, { firstStatement: `SELECT pg_advisory_xact_lock(${APPEND_LOCK_KEY})` });
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
}

/** The append lock's key (any constant bigint; this one is hashtextextended('chat:append', 0)). */
const APPEND_LOCK_KEY = "hashtextextended('chat:append', 0)";

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

interface InsertRows {
  stream: string[];
  revision: string[];
  id: string[];
  type: string[];
  data: string[];
  metadata: string[];
}

function lastOf(rows: Array<RowPosition>): RowPosition {
  return rows.reduce((a, b) => (BigInt(a.stream_revision) > BigInt(b.stream_revision) ? a : b));
}

interface RowPosition {
  stream_revision: string;
  global_position: string;
}

interface EventRow extends RowPosition {
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

function meets(expected: ExpectedRevision, current: bigint | 'no_stream'): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === 'no_stream';
  return current === expected;
}

function toAppendResult(row: RowPosition): AppendResult {
  const position = BigInt(row.global_position);
  return { nextExpectedRevision: BigInt(row.stream_revision), globalPosition: position, checkpoint: encodeCheckpoint(position) };
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
