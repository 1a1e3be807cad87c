import type { Suspensions } from '../../application/ports/suspensions';
import type { SqlExecutor } from '../sql/sqlDatabase';

interface Asking {
  userId: string;
  now: Date;
  resolve(suspension: { until: string | null } | null): void;
  reject(error: unknown): void;
}

/**
 * rm_suspensions, read in every write's path; the checks asked at about the same time share
 * one read (`user_id = ANY(...)`), so a busy process pays a round trip per batch of sends,
 * not per send. A check never rides on a read that started before it was asked: checks
 * asked while a read is under way wait for the next one, so each sees every suspension
 * committed before it was asked, as one read of its own would.
 */
export class SqlSuspensions implements Suspensions {
  private waiting: Asking[] = [];
  private reading = false;
  private scheduled = false;

  constructor(private readonly db: SqlExecutor) {}

  activeSuspension(userId: string, now: Date): Promise<{ until: string | null } | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ userId, now, resolve, reject });
      this.schedule();
    });
  }

  /** The next read starts once the current one (if any) has answered, after this tick's checks have gathered. */
  private schedule(): void {
    if (this.reading || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.readBatch();
    });
  }

  private async readBatch(): Promise<void> {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    this.reading = true;
    try {
      const result = await this.db.query<{ user_id: string; until: Date | string | null }>(
        `SELECT user_id, until FROM rm_suspensions WHERE user_id = ANY($1::text[])`,
        [[...new Set(batch.map((a) => a.userId))]],
      );
      const untilOf = new Map(result.rows.map((row) => [row.user_id, row.until === null ? null : new Date(row.until)]));
      for (const asking of batch) {
        const until = untilOf.get(asking.userId);
        if (until === undefined || (until !== null && until.getTime() <= asking.now.getTime())) asking.resolve(null);
        else asking.resolve({ until: until === null ? null : until.toISOString() });
      }
    } catch (error) {
      for (const asking of batch) asking.reject(error);
    } finally {
      this.reading = false;
      if (this.waiting.length > 0) this.schedule();
    }
  }
}
