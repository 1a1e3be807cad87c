import type { RetentionCandidate, RetentionCandidates } from '../../application/privacy/sweepRetention';
import type { SqlExecutor } from '../sql/sqlDatabase';

/**
 * The retention sweep's candidates, from the read model (rm_rooms) and the data keys (the
 * same database): rooms quiet since the cutoff with messages no retention has erased yet,
 * or with a data key still live (an interrupted sweep, or a key made for a send the room
 * refused).
 */
export class SqlRetentionCandidates implements RetentionCandidates {
  constructor(private readonly db: SqlExecutor) {}

  async findRetentionCandidates(cutoff: Date, limit: number, after: RetentionCandidate | null): Promise<RetentionCandidate[]> {
    const params: unknown[] = [cutoff.toISOString(), limit];
    let page = '';
    if (after !== null) {
      params.push(after.lastActivityAt, after.roomId);
      page = `AND (r.last_activity_at, r.room_id) > ($3::timestamptz, $4::text)`;
    }
    const result = await this.db.query<{ room_id: string; last_activity_at: Date | string }>(
      `SELECT r.room_id, r.last_activity_at FROM rm_rooms r
        WHERE r.last_activity_at <= $1
          AND (r.last_seq > r.retained_up_to_seq
               OR EXISTS (SELECT 1 FROM data_keys k WHERE k.room_id = r.room_id AND k.destroyed_at IS NULL))
          ${page}
        ORDER BY r.last_activity_at, r.room_id
        LIMIT $2`,
      params,
    );
    return result.rows.map((row) => ({ roomId: row.room_id, lastActivityAt: new Date(row.last_activity_at).toISOString() }));
  }
}
