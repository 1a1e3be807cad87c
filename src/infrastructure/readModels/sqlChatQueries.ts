import { POST_ID_PATTERN } from '../../domain/post';
import { defaultMessageViewOptions, toMessageView, type MessageView, type MessageViewOptions } from '../../domain/room';
import { DomainError } from '../../domain/shared/decider';
import type {
  ChatQueries,
  ExpiryCandidate,
  MessagePage,
  MessagePageQuery,
  ParticipantProfile,
  PostPage,
  PostView,
  RoomPage,
  RoomView,
} from '../../application/ports/readModels';
import type { SqlExecutor } from '../sql/sqlDatabase';
import { messageColumns, messageOfRow, type MessageRow } from './messageRows';

interface RoomRow {
  room_id: string;
  post_id: string;
  post_title: string;
  lender_id: string;
  borrower_id: string;
  status: 'open' | 'expired';
  opened_at: Date | string;
  last_activity_at: Date | string;
  last_seq: number;
  last_read: Record<string, number> | string;
  unread_count: number;
  m_last_activity_at: Date | string;
  user_id: string;
  blocks: Record<string, string> | string;
  lender_name: string | null;
  lender_picture: string | null;
  borrower_name: string | null;
  borrower_picture: string | null;
}

const iso = (value: Date | string): string => new Date(value).toISOString();

function toMessage(row: MessageRow, options: MessageViewOptions): MessageView {
  return toMessageView(messageOfRow(row), options, row.hidden === true);
}

const roomSelect = `
  SELECT r.room_id, r.post_id, r.post_title, r.lender_id, r.borrower_id, r.status, r.opened_at,
         r.last_activity_at, r.last_seq, r.last_read, m.unread_count, m.last_activity_at AS m_last_activity_at,
         m.user_id, r.blocks, pl.name AS lender_name, pl.picture AS lender_picture, pb.name AS borrower_name, pb.picture AS borrower_picture
    FROM rm_room_members m JOIN rm_rooms r ON r.room_id = m.room_id
    LEFT JOIN user_profiles pl ON pl.user_id = r.lender_id
    LEFT JOIN user_profiles pb ON pb.user_id = r.borrower_id`;

/** The contract's queries over the projected tables. */
export class SqlChatQueries implements ChatQueries {
  constructor(
    private readonly db: SqlExecutor,
    private readonly messageOptions: MessageViewOptions = defaultMessageViewOptions,
  ) {}

  async getPost(postId: string): Promise<PostView | null> {
    const result = await this.db.query<{ post_id: string; owner_id: string; title: string }>(
      `SELECT post_id, owner_id, title FROM rm_posts WHERE post_id = $1`,
      [postId],
    );
    const row = result.rows[0];
    return row === undefined ? null : { postId: row.post_id, ownerId: row.owner_id, title: row.title };
  }

  async listPosts(limit: number, cursor: string | null): Promise<PostPage> {
    const after = cursor === null ? null : decodePostCursor(cursor);
    if (cursor !== null && after === null) throw new DomainError('bad_request', 'cursor: not a cursor this service made');
    const params: unknown[] = [limit + 1];
    let page = '';
    if (after !== null) {
      params.push(after.updatedAt, after.postId);
      page = `WHERE (updated_at, post_id) < ($2::timestamptz, $3::text)`;
    }
    const result = await this.db.query<{ post_id: string; owner_id: string; title: string; updated_at: Date | string }>(
      `SELECT post_id, owner_id, title, updated_at FROM rm_posts ${page}
        ORDER BY updated_at DESC, post_id DESC LIMIT $1`,
      params,
    );
    const rows = result.rows.slice(0, limit);
    const last = rows.at(-1);
    const nextCursor =
      result.rows.length > limit && last !== undefined
        ? encodePostCursor({ updatedAt: iso(last.updated_at), postId: last.post_id })
        : null;
    return { posts: rows.map((row) => ({ postId: row.post_id, ownerId: row.owner_id, title: row.title })), nextCursor };
  }

  async getRoom(roomId: string, viewerId: string): Promise<RoomView | null> {
    const result = await this.db.query<RoomRow>(`${roomSelect} WHERE m.room_id = $1 AND m.user_id = $2`, [roomId, viewerId]);
    const row = result.rows[0];
    if (row === undefined) return null;
    const [room] = await this.withLastMessages([row]);
    return room ?? null;
  }

  async listRooms(viewerId: string, limit: number, cursor: string | null): Promise<RoomPage> {
    const after = cursor === null ? null : decodeRoomCursor(cursor);
    if (cursor !== null && after === null) throw new DomainError('bad_request', 'cursor: not a cursor this service made');
    const params: unknown[] = [viewerId, limit + 1];
    let page = '';
    if (after !== null) {
      params.push(after.lastActivityAt, after.roomId);
      page = `AND (m.last_activity_at, m.room_id) < ($3::timestamptz, $4::text)`;
    }
    const result = await this.db.query<RoomRow>(
      `${roomSelect}
        WHERE m.user_id = $1 AND m.status = 'open' ${page}
        ORDER BY m.last_activity_at DESC, m.room_id DESC
        LIMIT $2`,
      params,
    );
    const rows = result.rows.slice(0, limit);
    const last = rows.at(-1);
    const nextCursor =
      result.rows.length > limit && last !== undefined
        ? encodeRoomCursor({ lastActivityAt: iso(last.m_last_activity_at), roomId: last.room_id })
        : null;
    return { rooms: await this.withLastMessages(rows), nextCursor };
  }

  async getMessages(roomId: string, query: MessagePageQuery): Promise<MessagePage> {
    const params: unknown[] = [roomId, query.limit + 1];
    const conditions = ['room_id = $1'];
    if (query.after !== undefined) {
      params.push(query.after);
      conditions.push(`seq > $${params.length}`);
    }
    if (query.before !== undefined) {
      params.push(query.before);
      conditions.push(`seq < $${params.length}`);
    }
    // With `after` alone a page reads forward from it; otherwise it is the newest page below `before`.
    const forward = query.after !== undefined && query.before === undefined;
    const result = await this.db.query<MessageRow>(
      `SELECT ${messageColumns} FROM rm_messages WHERE ${conditions.join(' AND ')}
        ORDER BY seq ${forward ? 'ASC' : 'DESC'} LIMIT $2`,
      params,
    );
    const hasMore = result.rows.length > query.limit;
    const rows = result.rows.slice(0, query.limit);
    if (!forward) rows.reverse();
    return { messages: rows.map((row) => toMessage(row, this.messageOptions)), hasMore };
  }

  async findExpiryCandidates(
    now: Date,
    emptyTtlMs: number,
    idleTtlMs: number,
    limit: number,
    after: ExpiryCandidate | null = null,
  ): Promise<ExpiryCandidate[]> {
    const emptyBefore = new Date(now.getTime() - emptyTtlMs).toISOString();
    const idleBefore = new Date(now.getTime() - idleTtlMs).toISOString();
    const params: unknown[] = [emptyBefore, idleBefore, limit];
    let page = '';
    if (after !== null) {
      params.push(after.lastActivityAt, after.roomId);
      page = `AND (last_activity_at, room_id) > ($4::timestamptz, $5::text)`;
    }
    // The rule of expiryDue in the domain: no message since (re)opening (counted by seq) → the
    // empty TTL from active_since; otherwise the idle TTL from the last message.
    const result = await this.db.query<{ room_id: string; last_activity_at: Date | string }>(
      `SELECT room_id, last_activity_at FROM rm_rooms
        WHERE status = 'open'
          AND ((last_seq = active_since_seq OR last_message_at IS NULL) AND active_since <= $1
               OR last_seq <> active_since_seq AND last_message_at IS NOT NULL AND last_message_at <= $2)
          ${page}
        ORDER BY last_activity_at, room_id
        LIMIT $3`,
      params,
    );
    return result.rows.map((row) => ({ roomId: row.room_id, lastActivityAt: iso(row.last_activity_at) }));
  }

  private async withLastMessages(rows: RoomRow[]): Promise<RoomView[]> {
    const wanted = rows.filter((r) => Number(r.last_seq) > 0);
    const last = new Map<string, MessageView>();
    if (wanted.length > 0) {
      const result = await this.db.query<MessageRow>(
        `SELECT ${messageColumns.split(', ').map((c) => `m.${c}`).join(', ')} FROM rm_messages m
          JOIN unnest($1::text[], $2::int[]) AS w(room_id, seq) ON w.room_id = m.room_id AND w.seq = m.seq`,
        [wanted.map((r) => r.room_id), wanted.map((r) => Number(r.last_seq))],
      );
      for (const row of result.rows) last.set(row.room_id, toMessage(row, this.messageOptions));
    }
    return rows.map((row) => {
      // `blocks` maps each blocker to the user they blocked (chatProjection.ts).
      const blocks: Record<string, string> = typeof row.blocks === 'string' ? JSON.parse(row.blocks) : row.blocks;
      const other = row.user_id === row.lender_id ? row.borrower_id : row.lender_id;
      return {
        roomId: row.room_id,
        postId: row.post_id,
        postTitle: row.post_title,
        lenderId: row.lender_id,
        borrowerId: row.borrower_id,
        status: row.status,
        openedAt: iso(row.opened_at),
        lastActivityAt: iso(row.last_activity_at),
        lastMessage: last.get(row.room_id) ?? null,
        unreadCount: Number(row.unread_count),
        lastReadSeq: typeof row.last_read === 'string' ? JSON.parse(row.last_read) : row.last_read,
        blockedByMe: Object.hasOwn(blocks, row.user_id),
        blockedMe: blocks[other] === row.user_id,
        participants: participants([
          [row.lender_id, row.lender_name, row.lender_picture],
          [row.borrower_id, row.borrower_name, row.borrower_picture],
        ]),
      };
    });
  }
}

function participants(people: Array<[userId: string, name: string | null, picture: string | null]>): Record<string, ParticipantProfile> {
  const known: Record<string, ParticipantProfile> = {};
  for (const [userId, name, picture] of people) {
    if (name === null && picture === null) continue;
    known[userId] = { ...(name !== null ? { name } : {}), ...(picture !== null ? { picture } : {}) };
  }
  return known;
}

/** Opaque to clients: where the previous page of a room list ended. */
export function encodeRoomCursor(position: { lastActivityAt: string; roomId: string }): string {
  return Buffer.from(JSON.stringify([position.lastActivityAt, position.roomId]), 'utf8').toString('base64url');
}

/** Null when the cursor is not one this service made. */
export function decodeRoomCursor(cursor: string): { lastActivityAt: string; roomId: string } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [lastActivityAt, roomId] = value as unknown[];
    // Exactly what encodeRoomCursor writes: anything else (a time PostgreSQL cannot read,
    // a NUL in the id) would otherwise reach SQL and fail there as a 500.
    if (typeof lastActivityAt !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(lastActivityAt)) return null;
    const time = Date.parse(lastActivityAt);
    if (Number.isNaN(time) || new Date(time).toISOString() !== lastActivityAt) return null;
    if (typeof roomId !== 'string' || !/^[0-9a-f-]{1,64}$/.test(roomId)) return null;
    return { lastActivityAt, roomId };
  } catch {
    return null;
  }
}

/** Opaque to clients: where the previous page of the post list ended. */
export function encodePostCursor(position: { updatedAt: string; postId: string }): string {
  return Buffer.from(JSON.stringify([position.updatedAt, position.postId]), 'utf8').toString('base64url');
}

/** Null when the cursor is not one this service made. */
export function decodePostCursor(cursor: string): { updatedAt: string; postId: string } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [updatedAt, postId] = value as unknown[];
    if (typeof updatedAt !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(updatedAt)) return null;
    const time = Date.parse(updatedAt);
    if (Number.isNaN(time) || new Date(time).toISOString() !== updatedAt) return null;
    if (typeof postId !== 'string' || !POST_ID_PATTERN.test(postId)) return null;
    return { updatedAt, postId };
  } catch {
    return null;
  }
}
