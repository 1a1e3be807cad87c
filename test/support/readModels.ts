import { readModelTables } from '../../src/infrastructure/readModels/schema';
import type { SqlExecutor } from '../../src/infrastructure/sql/sqlDatabase';

/** Every row of every read-model table, in primary-key order: two snapshots compare row for row. */
export async function snapshotReadModels(db: SqlExecutor): Promise<Record<string, unknown[]>> {
  const order: Record<(typeof readModelTables)[number], string> = {
    rm_posts: 'post_id',
    rm_rooms: 'room_id',
    rm_room_members: 'room_id, user_id',
    rm_messages: 'room_id, seq',
    rm_reports: 'report_id',
    rm_suspensions: 'user_id',
  };
  const snapshot: Record<string, unknown[]> = {};
  for (const table of readModelTables) {
    const result = await db.query(`SELECT * FROM ${table} ORDER BY ${order[table]}`);
    snapshot[table] = result.rows.map((row) => JSON.parse(JSON.stringify(row)));
  }
  return snapshot;
}

export interface ProjectionAudit {
  /** MessageSent events in the store, as (roomId, seq, messageId). */
  events: string[];
  /** rm_messages rows, the same way. */
  rows: string[];
  /** Members whose unread count is not the other side's messages after what they read. */
  wrongUnread: Array<{ room_id: string; user_id: string; unread_count: number; expected: number }>;
  /** Rooms whose last_seq is not their highest message. */
  wrongLastSeq: Array<{ room_id: string; last_seq: number; expected: number }>;
}

/**
 * What a projection applied exactly once looks like, read straight from the tables:
 * every MessageSent event is one rm_messages row (same room, seq and id, none missing,
 * none extra), and the counters an event bumps (unread counts, last seq) are what the
 * messages say they should be. An event applied twice shows as a count off by one.
 */
export async function auditProjection(db: SqlExecutor): Promise<ProjectionAudit> {
  const events = await db.query<{ key: string }>(
    `SELECT (data->>'roomId') || '#' || (data->>'seq') || '#' || (data->>'messageId') AS key
       FROM events WHERE event_type = 'MessageSent'
      ORDER BY data->>'roomId', (data->>'seq')::int, global_position`,
  );
  const rows = await db.query<{ key: string }>(
    `SELECT room_id || '#' || seq || '#' || message_id AS key FROM rm_messages ORDER BY room_id, seq`,
  );
  const wrongUnread = await db.query<{ room_id: string; user_id: string; unread_count: number; expected: number }>(
    `SELECT m.room_id, m.user_id, m.unread_count, e.expected::int AS expected
       FROM rm_room_members m,
            LATERAL (SELECT count(*) AS expected FROM rm_messages x
                      WHERE x.room_id = m.room_id AND x.seq > m.last_read_seq AND x.sender_id <> m.user_id) e
      WHERE m.unread_count <> e.expected`,
  );
  const wrongLastSeq = await db.query<{ room_id: string; last_seq: number; expected: number }>(
    `SELECT r.room_id, r.last_seq, coalesce((SELECT max(seq) FROM rm_messages x WHERE x.room_id = r.room_id), 0) AS expected
       FROM rm_rooms r
      WHERE r.last_seq <> coalesce((SELECT max(seq) FROM rm_messages x WHERE x.room_id = r.room_id), 0)`,
  );
  return {
    events: events.rows.map((r) => r.key),
    rows: rows.rows.map((r) => r.key),
    wrongUnread: wrongUnread.rows,
    wrongLastSeq: wrongLastSeq.rows,
  };
}

/** Seqs per room are 1..n with no gap and no repeat. */
export function seqsAreContiguous(keys: string[]): boolean {
  const byRoom = new Map<string, number[]>();
  for (const key of keys) {
    const [room, seq] = key.split('#');
    byRoom.set(room as string, [...(byRoom.get(room as string) ?? []), Number(seq)]);
  }
  return [...byRoom.values()].every((seqs) => seqs.every((seq, i) => seq === i + 1));
}
