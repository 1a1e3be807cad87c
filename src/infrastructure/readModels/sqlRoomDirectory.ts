import type { RoomAccess, RoomDirectory } from '../../application/ports/roomDirectory';
import type { SqlExecutor } from '../sql/sqlDatabase';

interface AccessRow {
  room_id: string;
  lender_id: string;
  borrower_id: string;
  status: 'open' | 'expired';
  blocks: Record<string, string> | string;
}

/** The room directory over the projected `rm_rooms` table: one indexed row per lookup. */
export class SqlRoomDirectory implements RoomDirectory {
  constructor(private readonly db: SqlExecutor) {}

  async access(roomId: string): Promise<RoomAccess | null> {
    const result = await this.db.query<AccessRow>(
      `SELECT room_id, lender_id, borrower_id, status, blocks FROM rm_rooms WHERE room_id = $1`,
      [roomId],
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    return {
      roomId: row.room_id,
      lenderId: row.lender_id,
      borrowerId: row.borrower_id,
      status: row.status,
      blocks: typeof row.blocks === 'string' ? (JSON.parse(row.blocks) as Record<string, string>) : row.blocks,
    };
  }

  async roomsOf(userId: string): Promise<Array<{ roomId: string; lenderId: string; borrowerId: string }>> {
    const result = await this.db.query<{ room_id: string; lender_id: string; borrower_id: string }>(
      `SELECT room_id, lender_id, borrower_id FROM rm_rooms WHERE lender_id = $1 UNION
       SELECT room_id, lender_id, borrower_id FROM rm_rooms WHERE borrower_id = $1`,
      [userId],
    );
    return result.rows.map((r) => ({ roomId: r.room_id, lenderId: r.lender_id, borrowerId: r.borrower_id }));
  }
}
