import type { RecordedEvent } from '../../application/ports/eventStore';
import type { PostEvent } from '../../domain/post';
import type { RoomEvent } from '../../domain/room';
import type { SqlExecutor } from '../sql/sqlDatabase';

/**
 * How each event changes the read models. Applied inside the transaction that also
 * moves the checkpoint, so an event is applied exactly once or not at all. Every
 * statement is written to give the same rows when replayed from zero (rebuild).
 */
export async function applyToReadModels(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
  const event = { type: recorded.type, data: recorded.data } as RoomEvent | PostEvent;
  switch (event.type) {
    case 'PostUpserted': {
      const d = event.data;
      await tx.query(
        `INSERT INTO rm_posts (post_id, owner_id, title, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (post_id) DO UPDATE SET owner_id = excluded.owner_id, title = excluded.title, updated_at = excluded.updated_at`,
        [d.postId, d.ownerId, d.title, d.upsertedAt],
      );
      return;
    }
    case 'RoomOpened': {
      const d = event.data;
      await tx.query(
        `INSERT INTO rm_rooms (room_id, post_id, post_title, lender_id, borrower_id, status, opened_at, active_since,
                               last_activity_at, last_read)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $6, $6, $7::jsonb)
         ON CONFLICT (room_id) DO NOTHING`,
        [d.roomId, d.postId, d.postTitle, d.lenderId, d.borrowerId, d.openedAt, JSON.stringify({ [d.lenderId]: 0, [d.borrowerId]: 0 })],
      );
      await tx.query(
        `INSERT INTO rm_room_members (room_id, user_id, status, last_activity_at)
         VALUES ($1, $2, 'open', $4), ($1, $3, 'open', $4)
         ON CONFLICT (room_id, user_id) DO NOTHING`,
        [d.roomId, d.lenderId, d.borrowerId, d.openedAt],
      );
      return;
    }
    case 'MessageSent': {
      const d = event.data;
      await tx.query(
        `INSERT INTO rm_messages (room_id, seq, message_id, sender_id, body, client_message_id, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (room_id, seq) DO NOTHING`,
        [d.roomId, d.seq, d.messageId, d.senderId, d.body, d.clientMessageId, d.sentAt],
      );
      await tx.query(
        `UPDATE rm_rooms SET last_seq = $2, last_message_at = $3, last_activity_at = GREATEST(last_activity_at, $3)
          WHERE room_id = $1`,
        [d.roomId, d.seq, d.sentAt],
      );
      await tx.query(
        `UPDATE rm_room_members
            SET last_activity_at = GREATEST(last_activity_at, $3),
                unread_count = unread_count + CASE WHEN user_id = $2 THEN 0 ELSE 1 END
          WHERE room_id = $1`,
        [d.roomId, d.senderId, d.sentAt],
      );
      return;
    }
    case 'MessagesRead': {
      const d = event.data;
      await tx.query(`UPDATE rm_rooms SET last_read = last_read || jsonb_build_object($2::text, $3::int) WHERE room_id = $1`, [
        d.roomId,
        d.userId,
        d.upToSeq,
      ]);
      // Unread = the other participant's messages after what this user has read.
      await tx.query(
        `UPDATE rm_room_members m
            SET last_read_seq = $3,
                unread_count = (SELECT count(*) FROM rm_messages x WHERE x.room_id = $1 AND x.seq > $3 AND x.sender_id <> $2)
          WHERE m.room_id = $1 AND m.user_id = $2`,
        [d.roomId, d.userId, d.upToSeq],
      );
      return;
    }
    case 'RoomBlocked': {
      const d = event.data;
      await tx.query(`UPDATE rm_rooms SET blocks = blocks || jsonb_build_object($2::text, $3::text) WHERE room_id = $1`, [
        d.roomId,
        d.blockerId,
        d.blockedId,
      ]);
      return;
    }
    case 'RoomUnblocked': {
      const d = event.data;
      await tx.query(`UPDATE rm_rooms SET blocks = blocks - $2::text WHERE room_id = $1`, [d.roomId, d.blockerId]);
      return;
    }
    case 'RoomExpired': {
      const d = event.data;
      await tx.query(`UPDATE rm_rooms SET status = 'expired' WHERE room_id = $1`, [d.roomId]);
      await tx.query(`UPDATE rm_room_members SET status = 'expired' WHERE room_id = $1`, [d.roomId]);
      return;
    }
    case 'RoomReopened': {
      const d = event.data;
      await tx.query(
        `UPDATE rm_rooms SET status = 'open', active_since = $2, active_since_seq = last_seq,
                last_activity_at = GREATEST(last_activity_at, $2)
          WHERE room_id = $1`,
        [d.roomId, d.reopenedAt],
      );
      await tx.query(
        `UPDATE rm_room_members SET status = 'open', last_activity_at = GREATEST(last_activity_at, $2) WHERE room_id = $1`,
        [d.roomId, d.reopenedAt],
      );
      return;
    }
    default: {
      const exhaustive: never = event;
      void exhaustive;
      // An event type this version does not know (written by a newer one): skip it, keep going.
      return;
    }
  }
}
