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
import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';
import { pollingSubscription } from './pollingSubscription';

/**
 * The event store on PostgreSQL, for a server (`pg`) or embedded (PGlite) alike.
 *
 * Ordering. A bigserial position is taken when a row is inserted, not when its
 * transaction commits, so a reader following positions could pass position 7
 * (committed) while 6 was still in flight, and never see 6 (Marten #1879, Emmett
 * PR #336). Every row therefore records its transaction id, and readers:
 *   - see only rows whose transaction id is below the xmin of the current snapshot,
 *     i.e. from transactions that have all finished: nothing can still appear there;
 *   - order by (transaction id, position) and resume after that pair, so a row of an
 *     older transaction is never behind the checkpoint when it becomes visible.
 * A writer takes the stream's advisory lock before its first write, and a transaction
 * id is assigned at the first write, so within a stream transaction ids grow with
 * revisions and this global order keeps every stream's order.
 */
export class PostgresEventStore implements EventStore {
  static readonly notifyChannel = 'chat_events';

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: { pollIntervalMs?: number } = {},
  ) {}

  static async migrate(db: SqlDatabase): Promise<void> {
    await db.transaction(async (tx) => {
      // Several processes may start at once: one migrates, the others wait for it.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('chat:migrate:events', 0))`);
      await tx.query(`
        CREATE TABLE IF NOT EXISTS events (
          global_position bigserial PRIMARY KEY,
          transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
          stream_id text NOT NULL,
          stream_revision bigint NOT NULL,
          event_id uuid NOT NULL,
          event_type text NOT NULL,
          data jsonb NOT NULL,
          metadata jsonb NOT NULL,
          recorded_at timestamptz NOT NULL DEFAULT now(),
          UNIQUE (stream_id, stream_revision),
          UNIQUE (stream_id, event_id)
        )`);
      await tx.query(`CREATE INDEX IF NOT EXISTS events_global_order ON events (transaction_id, global_position)`);
    });
  }

  async appendToStream(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    return this.db.transaction(async (tx) => {
      // No transaction id is assigned before this lock is held: see the class comment.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [streamId]);

      const already = await tx.query<RowPosition & { event_id: string }>(
        `SELECT event_id::text, stream_revision::text, global_position::text, transaction_id::text
           FROM events WHERE stream_id = $1 AND event_id = ANY($2::uuid[]) ORDER BY events.stream_revision`,
        [streamId, events.map((e) => e.eventId)],
      );
      if (already.rows.length === events.length) return toAppendResult(already.rows.at(-1) as RowPosition);

      const current = await currentRevision(tx, streamId);
      if (already.rows.length > 0 || !meets(expectedRevision, current)) {
        throw new WrongExpectedRevisionError(streamId, expectedRevision, current);
      }

      const first = current === 'no_stream' ? 0n : current + 1n;
      const params: unknown[] = [];
      const values = events.map((event, i) => {
        params.push(streamId, String(first + BigInt(i)), event.eventId, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata));
        const p = i * 6;
        return `($${p + 1}, $${p + 2}::bigint, $${p + 3}::uuid, $${p + 4}, $${p + 5}::jsonb, $${p + 6}::jsonb)`;
      });
      const inserted = await tx.query<RowPosition>(
        `INSERT INTO events (stream_id, stream_revision, event_id, event_type, data, metadata)
         VALUES ${values.join(', ')}
         RETURNING stream_revision::text, global_position::text, transaction_id::text`,
        params,
      );
      await tx.query(`SELECT pg_notify($1, '')`, [PostgresEventStore.notifyChannel]);
      const last = inserted.rows.reduce((a, b) => (BigInt(a.stream_revision) > BigInt(b.stream_revision) ? a : b));
      return toAppendResult(last);
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
    const [transactionId, position] = after === null ? ['0', '0'] : parseCheckpoint(after);
    const result = await this.db.query<EventRow>(
      `SELECT ${eventColumns} FROM events
        WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id, events.global_position
        LIMIT $3`,
      [transactionId, position, maxCount],
    );
    return result.rows.map(toRecordedEvent);
  }

  /** The checkpoint of the last event that is already safe to read (see the class comment). */
  async headCheckpoint(): Promise<string | null> {
    const result = await this.db.query<RowPosition>(
      `SELECT global_position::text, transaction_id::text FROM events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id DESC, events.global_position DESC LIMIT 1`,
    );
    const row = result.rows[0];
    return row === undefined ? null : encodeCheckpoint(row.transaction_id, row.global_position);
  }

  /** Whether committed-or-not rows after `after` are still hidden behind an open older transaction. */
  async heldBack(after: string | null): Promise<boolean> {
    const [transactionId, position] = after === null ? ['0', '0'] : parseCheckpoint(after);
    const result = await this.db.query<{ held: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM events
          WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
            AND transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
       ) AS held`,
      [transactionId, position],
    );
    return result.rows[0]?.held === true;
  }

  subscribeToAll(start: SubscriptionStart, options: SubscribeOptions): Subscription {
    return pollingSubscription({
      start,
      readAll: (after, maxCount) => this.readAll(after, maxCount),
      head: () => this.headCheckpoint(),
      heldBack: (after) => this.heldBack(after),
      listen: (wake) => this.db.listen(PostgresEventStore.notifyChannel, wake),
      pollIntervalMs: this.options.pollIntervalMs ?? 200,
      ...options,
    });
  }

  async close(): Promise<void> {
    // The database belongs to whoever made it; the store has nothing of its own to close.
  }
}

interface RowPosition {
  stream_revision: string;
  global_position: string;
  transaction_id: string;
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
const eventColumns = `stream_id, stream_revision::text, global_position::text, transaction_id::text,
  event_id::text, event_type, data, metadata`;

async function currentRevision(tx: SqlExecutor, streamId: string): Promise<bigint | 'no_stream'> {
  const result = await tx.query<{ revision: string | null }>(
    `SELECT max(stream_revision)::text AS revision FROM events WHERE stream_id = $1`,
    [streamId],
  );
  const revision = result.rows[0]?.revision ?? null;
  return revision === null ? 'no_stream' : BigInt(revision);
}

function meets(expected: ExpectedRevision, current: bigint | 'no_stream'): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === 'no_stream';
  return current === expected;
}

function toAppendResult(row: RowPosition): AppendResult {
  return {
    nextExpectedRevision: BigInt(row.stream_revision),
    globalPosition: BigInt(row.global_position),
    checkpoint: encodeCheckpoint(row.transaction_id, row.global_position),
  };
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    streamRevision: BigInt(row.stream_revision),
    globalPosition: BigInt(row.global_position),
    checkpoint: encodeCheckpoint(row.transaction_id, row.global_position),
    eventId: row.event_id,
    type: row.event_type,
    data: typeof row.data === 'string' ? JSON.parse(row.data) : row.data,
    metadata: typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata,
  };
}

/** Fixed-width decimal digits, so checkpoints compare as plain strings. */
export function encodeCheckpoint(transactionId: string, position: string): string {
  return `${transactionId.padStart(20, '0')}/${position.padStart(20, '0')}`;
}

function parseCheckpoint(checkpoint: string): [string, string] {
  const match = /^(\d{20})\/(\d{20})$/.exec(checkpoint);
  if (match === null) throw new Error(`not a PostgreSQL event store checkpoint: ${checkpoint}`);
  return [BigInt(match[1] as string).toString(), BigInt(match[2] as string).toString()];
}
