import type { Suspensions } from '../../application/ports/suspensions';
import type { SqlExecutor } from '../sql/sqlDatabase';

/** rm_suspensions, one primary-key read per write. */
export class SqlSuspensions implements Suspensions {
  constructor(private readonly db: SqlExecutor) {}

  async activeSuspension(userId: string, now: Date): Promise<{ until: string | null } | null> {
    const result = await this.db.query<{ until: Date | string | null }>(
      `SELECT until FROM rm_suspensions WHERE user_id = $1 AND (until IS NULL OR until > $2)`,
      [userId, now.toISOString()],
    );
    const row = result.rows[0];
    return row === undefined ? null : { until: row.until === null ? null : new Date(row.until).toISOString() };
  }
}
