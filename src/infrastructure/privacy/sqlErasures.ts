import type { ErasureRecord, ErasureScrubber, ErasureTable } from '../../application/ports/erasures';
import type { ErasureCounts } from '../../domain/user';
import { roomStreamName } from '../../domain/streams';
import type { SqlExecutor } from '../sql/sqlDatabase';

interface Row {
  erasure_id: string;
  user_id: string;
  status: 'pending' | 'done';
  requested_by: string;
  requested_at: Date | string;
  completed_at: Date | string | null;
  counts: ErasureCounts | string | null;
  steps_done: string[];
}

const COLUMNS = 'erasure_id::text, user_id, status, requested_by, requested_at, completed_at, counts, steps_done';
const iso = (value: Date | string): string => new Date(value).toISOString();

function toRecord(row: Row): ErasureRecord {
  return {
    erasureId: row.erasure_id,
    userId: row.user_id,
    status: row.status,
    requestedBy: row.requested_by,
    requestedAt: iso(row.requested_at),
    completedAt: row.completed_at === null ? null : iso(row.completed_at),
    counts: typeof row.counts === 'string' ? (JSON.parse(row.counts) as ErasureCounts) : row.counts,
    stepsDone: row.steps_done,
  };
}

/** `user_erasures` (migration 11), on PostgreSQL or PGlite, whatever store holds the events. */
export class SqlErasureTable implements ErasureTable {
  constructor(private readonly db: SqlExecutor) {}

  async create(e: { erasureId: string; userId: string; requestedBy: string; requestedAt: Date }): Promise<ErasureRecord> {
    await this.db.query(
      `INSERT INTO user_erasures (erasure_id, user_id, requested_by, requested_at) VALUES ($1::uuid, $2, $3, $4)
       ON CONFLICT (user_id) DO NOTHING`,
      [e.erasureId, e.userId, e.requestedBy, e.requestedAt.toISOString()],
    );
    const result = await this.db.query<Row>(`SELECT ${COLUMNS} FROM user_erasures WHERE user_id = $1`, [e.userId]);
    return toRecord(result.rows[0] as Row);
  }

  async find(erasureId: string): Promise<ErasureRecord | null> {
    const result = await this.db.query<Row>(`SELECT ${COLUMNS} FROM user_erasures WHERE erasure_id = $1::uuid`, [erasureId]);
    const row = result.rows[0];
    return row === undefined ? null : toRecord(row);
  }

  async claim(owner: string, leaseMs: number): Promise<ErasureRecord | null> {
    const result = await this.db.query<Row>(
      `UPDATE user_erasures SET lease_owner = $1, lease_until = now() + make_interval(secs => $2), attempts = attempts + 1
        WHERE erasure_id = (
          SELECT erasure_id FROM user_erasures
           WHERE status = 'pending' AND (lease_until IS NULL OR lease_until < now())
           ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING ${COLUMNS}`,
      [owner, leaseMs / 1000],
    );
    const row = result.rows[0];
    return row === undefined ? null : toRecord(row);
  }

  async stepDone(erasureId: string, owner: string, step: string, leaseMs: number): Promise<boolean> {
    const result = await this.db.query(
      `UPDATE user_erasures
          SET steps_done = CASE WHEN $3 = ANY(steps_done) THEN steps_done ELSE array_append(steps_done, $3) END,
              lease_until = now() + make_interval(secs => $4)
        WHERE erasure_id = $1::uuid AND lease_owner = $2`,
      [erasureId, owner, step, leaseMs / 1000],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async failed(erasureId: string, owner: string, error: string): Promise<void> {
    await this.db.query(
      `UPDATE user_erasures SET last_error = $3, lease_owner = NULL, lease_until = now() + interval '5 seconds'
        WHERE erasure_id = $1::uuid AND lease_owner = $2`,
      [erasureId, owner, error.slice(0, 2000)],
    );
  }

  async complete(erasureId: string, owner: string, counts: ErasureCounts, at: Date): Promise<void> {
    await this.db.query(
      `UPDATE user_erasures SET status = 'done', counts = $3::jsonb, completed_at = $4, lease_owner = NULL, lease_until = NULL, last_error = NULL
        WHERE erasure_id = $1::uuid AND (lease_owner = $2 OR status = 'pending')`,
      [erasureId, owner, JSON.stringify(counts), at.toISOString()],
    );
  }
}

/** Rows changed by one statement. */
async function changed(db: SqlExecutor, sql: string, params: unknown[]): Promise<number> {
  return (await db.query(sql, params)).rowCount ?? 0;
}

/**
 * What the erasure scrubs outside the event store, in the tables of this service. Every
 * statement is idempotent: run again after a crash, it changes what is left and no more.
 */
export class SqlErasureScrubber implements ErasureScrubber {
  constructor(private readonly db: SqlExecutor) {}

  scrubReadModels(userId: string): Promise<number> {
    // The projection does the same when it reads the request (chatProjection.ts); this
    // covers a projection still behind, and the room lists show the erased last message.
    return changed(
      this.db,
      `UPDATE rm_messages SET body = '', erased = true, attachments = NULL
        WHERE sender_id = $1 AND (NOT erased OR body <> '' OR attachments IS NOT NULL)`,
      [userId],
    );
  }

  dropSnapshots(userId: string): Promise<number> {
    // Snapshots are a cache of the room's state (its recent messages included): a room
    // loads from its events without one, and writes a new one, erased, later.
    return changed(
      this.db,
      `DELETE FROM stream_snapshots WHERE stream_id IN (
         SELECT $2 || room_id FROM rm_rooms WHERE lender_id = $1 OR borrower_id = $1
         UNION SELECT $2 || room_id FROM data_keys WHERE sender_id = $1)`,
      [userId, roomStreamName('')],
    );
  }

  async scrubOutbox(userId: string): Promise<number> {
    // Webhooks: the envelope's data.body gone, data.erased set (pending and dead letters alike).
    const webhooks = await changed(
      this.db,
      `UPDATE notify_outbox
          SET body = jsonb_set((body::jsonb) #- '{data,body}', '{data,erased}', 'true'::jsonb)::text
        WHERE channel = 'webhook' AND type = 'message.created'
          AND (body::jsonb) -> 'data' ->> 'senderId' = $1 AND (body::jsonb) -> 'data' ? 'body'`,
      [userId],
    );
    // Web Push to others: the preview's body gone.
    const pushes = await changed(
      this.db,
      `UPDATE notify_outbox SET body = ((body::jsonb) - 'body')::text
        WHERE channel = 'push' AND (body::jsonb) ->> 'senderId' = $1 AND (body::jsonb) ? 'body'`,
      [userId],
    );
    // Web Push to the erased user: their subscriptions are going, and so do these.
    const toUser = await changed(
      this.db,
      `DELETE FROM notify_outbox WHERE channel = 'push' AND target IN (SELECT endpoint FROM push_subscriptions WHERE user_id = $1)`,
      [userId],
    );
    return webhooks + pushes + toUser;
  }

  deletePushSubscriptions(userId: string): Promise<number> {
    return changed(this.db, `DELETE FROM push_subscriptions WHERE user_id = $1`, [userId]);
  }

  deleteProfile(userId: string): Promise<number> {
    return changed(this.db, `DELETE FROM user_profiles WHERE user_id = $1`, [userId]);
  }

  async counts(userId: string): Promise<ErasureCounts> {
    const result = await this.db.query<{ rooms: string; messages: string }>(
      `SELECT (SELECT count(*) FROM (SELECT room_id FROM rm_messages WHERE sender_id = $1
                                     UNION SELECT room_id FROM data_keys WHERE sender_id = $1) r)::text AS rooms,
              (SELECT count(*) FROM rm_messages WHERE sender_id = $1)::text AS messages`,
      [userId],
    );
    const row = result.rows[0];
    return { rooms: Number(row?.rooms ?? 0), messages: Number(row?.messages ?? 0) };
  }
}
