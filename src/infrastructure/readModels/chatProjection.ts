import type { RecordedEvent } from '../../application/ports/eventStore';
import { decodeEvent, type DomainEvent } from '../../domain/events';
import type { MessageSent } from '../../domain/room';
import type { SqlExecutor } from '../sql/sqlDatabase';
import type { Projection } from './projectionRunner';
import { readModelTables } from './schema';

/** The chat's read models (rm_posts, rm_rooms, rm_room_members, rm_messages): what the HTTP queries and `resume` read. */
export const chatProjection: Projection = {
  name: 'chat_read_models',
  tables: readModelTables,
  applyBatch: (tx, events) => applyBatchToReadModels(tx, events),
};

/**
 * How a batch of events changes the read models, applied inside the transaction that
 * also moves the checkpoint, so each event is applied exactly once or not at all.
 *
 * Chat traffic is mostly messages, so a run of consecutive MessageSent events is
 * applied set-based: one multi-row insert of the messages, one update per room and
 * one per room's members touched, whatever the run's length. Every other event is
 * applied on its own, in order between the runs, so the result is the same as
 * applying the events one by one (a property test checks exactly that).
 */
export async function applyBatchToReadModels(tx: SqlExecutor, events: readonly RecordedEvent[]): Promise<void> {
  // Every statement is sent as soon as it is made, none waits for the one before: they
  // run in the order made on the transaction's one connection, and the batch waits once,
  // for all of them (one message to the embedded database's thread instead of one each).
  const statements: Array<Promise<unknown>> = [];
  let run: MessageSent['data'][] = [];
  for (const recorded of events) {
    const event = decodeEvent(recorded);
    if (event === null) continue; // A type this version does not know (written by a newer one): skipped.
    if (event.type === 'MessageSent') {
      run.push(event.data);
      continue;
    }
    if (run.length > 0) statements.push(...applyMessages(tx, run));
    run = [];
    statements.push(...applyEvent(tx, event));
  }
  if (run.length > 0) statements.push(...applyMessages(tx, run));
  await Promise.all(statements);
}

/** The `attachments` column: the recorded photos as JSON, or null for a message without any (or erased). */
const attachmentsColumn = (m: MessageSent['data']): string | null =>
  m.erased === true || m.attachments === undefined || m.attachments.length === 0 ? null : JSON.stringify(m.attachments);

/** A run of MessageSent events, in order, in three statements (sent, not awaited). */
function applyMessages(tx: SqlExecutor, messages: readonly MessageSent['data'][]): Array<Promise<unknown>> {
  const inserted = tx.query(
    `INSERT INTO rm_messages (room_id, seq, message_id, sender_id, body, client_message_id, sent_at, kind, attachments, erased)
     SELECT r, s, m, u, b, c, t, k, a::jsonb, e
       FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::text[], $10::boolean[])
         AS x(r, s, m, u, b, c, t, k, a, e)
     ON CONFLICT (room_id, seq) DO NOTHING`,
    [
      messages.map((m) => m.roomId),
      messages.map((m) => m.seq),
      messages.map((m) => m.messageId),
      messages.map((m) => m.senderId),
      messages.map((m) => m.body),
      messages.map((m) => m.clientMessageId),
      messages.map((m) => m.sentAt),
      messages.map((m) => m.kind ?? 'text'),
      messages.map(attachmentsColumn),
      messages.map((m) => m.erased === true),
    ],
  );
  // Per room: the last message (the run is in order) and how many each sender sent.
  const rooms = new Map<string, { seq: number; sentAt: string; total: number; bySender: Record<string, number> }>();
  for (const m of messages) {
    const room = rooms.get(m.roomId) ?? { seq: m.seq, sentAt: m.sentAt, total: 0, bySender: {} };
    room.seq = m.seq;
    room.sentAt = m.sentAt;
    room.total += 1;
    room.bySender[m.senderId] = (room.bySender[m.senderId] ?? 0) + 1;
    rooms.set(m.roomId, room);
  }
  const ids = [...rooms.keys()];
  const touched = [...rooms.values()];
  const roomsUpdated = tx.query(
    `UPDATE rm_rooms r SET last_seq = u.seq, last_message_at = u.sent_at, last_activity_at = GREATEST(r.last_activity_at, u.sent_at)
       FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS u(room_id, seq, sent_at)
      WHERE r.room_id = u.room_id`,
    [ids, touched.map((r) => r.seq), touched.map((r) => r.sentAt)],
  );
  // Unread: every message of the run counts for the participant who did not send it.
  const membersUpdated = tx.query(
    `UPDATE rm_room_members m
        SET last_activity_at = GREATEST(m.last_activity_at, u.sent_at),
            unread_count = m.unread_count + u.total - COALESCE((u.by_sender ->> m.user_id)::int, 0)
       FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::jsonb[]) AS u(room_id, total, sent_at, by_sender)
      WHERE m.room_id = u.room_id`,
    [ids, touched.map((r) => r.total), touched.map((r) => r.sentAt), touched.map((r) => JSON.stringify(r.bySender))],
  );
  return [inserted, roomsUpdated, membersUpdated];
}

/**
 * How one event other than a message changes the read models (messages go through
 * `applyMessages`, a run of them at a time): its statements, sent in order and not awaited.
 * Every statement is written to give the same rows when replayed from zero (rebuild).
 */
function applyEvent(tx: SqlExecutor, event: Exclude<DomainEvent, MessageSent>): Array<Promise<unknown>> {
  switch (event.type) {
    case 'PostUpserted': {
      const d = event.data;
      return [
        tx.query(
          `INSERT INTO rm_posts (post_id, owner_id, title, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (post_id) DO UPDATE SET owner_id = excluded.owner_id, title = excluded.title, updated_at = excluded.updated_at`,
          [d.postId, d.ownerId, d.title, d.upsertedAt],
        ),
      ];
    }
    case 'RoomOpened': {
      const d = event.data;
      return [
        tx.query(
          `INSERT INTO rm_rooms (room_id, post_id, post_title, lender_id, borrower_id, status, opened_at, active_since,
                                 last_activity_at, last_read)
           VALUES ($1, $2, $3, $4, $5, 'open', $6, $6, $6, $7::jsonb)
           ON CONFLICT (room_id) DO NOTHING`,
          [d.roomId, d.postId, d.postTitle, d.lenderId, d.borrowerId, d.openedAt, JSON.stringify({ [d.lenderId]: 0, [d.borrowerId]: 0 })],
        ),
        tx.query(
          `INSERT INTO rm_room_members (room_id, user_id, status, last_activity_at)
           VALUES ($1, $2, 'open', $4), ($1, $3, 'open', $4)
           ON CONFLICT (room_id, user_id) DO NOTHING`,
          [d.roomId, d.lenderId, d.borrowerId, d.openedAt],
        ),
      ];
    }
    case 'MessagesRead': {
      const d = event.data;
      // Then unread = the other participant's messages after what this user has read.
      return [
        tx.query(`UPDATE rm_rooms SET last_read = last_read || jsonb_build_object($2::text, $3::int) WHERE room_id = $1`, [
          d.roomId,
          d.userId,
          d.upToSeq,
        ]),
        tx.query(
          `UPDATE rm_room_members m
              SET last_read_seq = $3,
                  unread_count = (SELECT count(*) FROM rm_messages x WHERE x.room_id = $1 AND x.seq > $3 AND x.sender_id <> $2)
            WHERE m.room_id = $1 AND m.user_id = $2`,
          [d.roomId, d.userId, d.upToSeq],
        ),
      ];
    }
    case 'RoomBlocked': {
      const d = event.data;
      return [
        tx.query(`UPDATE rm_rooms SET blocks = blocks || jsonb_build_object($2::text, $3::text) WHERE room_id = $1`, [
          d.roomId,
          d.blockerId,
          d.blockedId,
        ]),
      ];
    }
    case 'RoomUnblocked': {
      const d = event.data;
      return [
        tx.query(`UPDATE rm_rooms SET blocks = blocks - $2::text WHERE room_id = $1`, [d.roomId, d.blockerId]),
      ];
    }
    case 'RoomExpired': {
      const d = event.data;
      return [
        tx.query(`UPDATE rm_rooms SET status = 'expired' WHERE room_id = $1`, [d.roomId]),
        tx.query(`UPDATE rm_room_members SET status = 'expired' WHERE room_id = $1`, [d.roomId]),
      ];
    }
    case 'RoomReopened': {
      const d = event.data;
      return [
        tx.query(
          `UPDATE rm_rooms SET status = 'open', active_since = $2, active_since_seq = last_seq,
                  last_activity_at = GREATEST(last_activity_at, $2)
            WHERE room_id = $1`,
          [d.roomId, d.reopenedAt],
        ),
        tx.query(
          `UPDATE rm_room_members SET status = 'open', last_activity_at = GREATEST(last_activity_at, $2) WHERE room_id = $1`,
          [d.roomId, d.reopenedAt],
        ),
      ];
    }
    case 'AuditAccessed':
    case 'AuditAnchored':
      // The audit trail's own events change no read model.
      return [];
    case 'MessageReported': {
      const d = event.data;
      return [
        tx.query(
          `INSERT INTO rm_reports (report_id, room_id, seq, reporter_id, reported_user_id, reason, note, status, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8) ON CONFLICT (report_id) DO NOTHING`,
          [d.reportId, d.roomId, d.seq, d.reporterId, d.reportedUserId, d.reason, d.note, d.reportedAt],
        ),
      ];
    }
    case 'ReportResolved': {
      const d = event.data;
      return [
        tx.query(
          `UPDATE rm_reports SET status = 'resolved', action = $2, resolution_note = $3, moderator_id = $4, resolved_at = $5
            WHERE report_id = $1`,
          [d.reportId, d.action, d.note, d.moderatorId, d.resolvedAt],
        ),
      ];
    }
    case 'MessageHidden': {
      const d = event.data;
      return [
        tx.query(`UPDATE rm_messages SET hidden = true WHERE room_id = $1 AND seq = $2`, [d.roomId, d.seq]),
      ];
    }
    case 'RoomRetentionElapsed': {
      // The room's data keys are destroyed: its messages up to here are erased, text and photos.
      const d = event.data;
      return [
        tx.query(
          `UPDATE rm_messages SET body = '', erased = true, attachments = NULL
            WHERE room_id = $1 AND seq <= $2 AND (NOT erased OR body <> '' OR attachments IS NOT NULL)`,
          [d.roomId, d.upToSeq],
        ),
        tx.query(`UPDATE rm_rooms SET retained_up_to_seq = GREATEST(retained_up_to_seq, $2) WHERE room_id = $1`, [d.roomId, d.upToSeq]),
      ];
    }
    // Every process checks a writer against this table in the write's own path (suspensions.ts).
    case 'UserSuspended': {
      const d = event.data;
      return [
        tx.query(
          `INSERT INTO rm_suspensions (user_id, until, reason, suspended_by, suspended_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (user_id) DO UPDATE SET until = excluded.until, reason = excluded.reason,
             suspended_by = excluded.suspended_by, suspended_at = excluded.suspended_at`,
          [d.userId, d.until, d.reason, d.suspendedBy, d.suspendedAt],
        ),
      ];
    }
    case 'UserReinstated':
      return [
        tx.query(`DELETE FROM rm_suspensions WHERE user_id = $1`, [event.data.userId]),
      ];
    // Erasure (docs/privacy.md): what the user wrote before the request leaves the history
    // here; what comes after it is read erased already (the store reads it so).
    case 'UserErasureRequested':
      return [
        tx.query(
          `UPDATE rm_messages SET body = '', erased = true, attachments = NULL
            WHERE sender_id = $1 AND (NOT erased OR body <> '' OR attachments IS NOT NULL)`,
          [event.data.userId],
        ),
      ];
    case 'UserErased':
      return [];
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}
