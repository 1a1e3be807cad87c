import type { Config } from '../../config';
import type { Logger } from '../../application/ports/logger';
import type { SharedBuckets } from '../../application/ports/sharedBuckets';
import type { SqlDatabase } from '../sql/sqlDatabase';

/**
 * Token buckets in one PostgreSQL table, so a budget holds across every process on the
 * database. One statement per take: the row lock orders concurrent takes, and the
 * database's clock is the only clock (processes' clocks may disagree). A bucket is
 * `tokens` as of `refilled_at`; a take refills it for the time since, caps it at the
 * burst, then removes one token if there is one. Rows of idle users are deleted now and
 * then: a missing row is a full bucket.
 */
export class SqlSharedBuckets implements SharedBuckets {
  private takesSincePrune = 0;

  /** Its table is created by the schema migrations (migrateDatabase). */
  constructor(
    private readonly db: SqlDatabase,
    private readonly logger: Logger,
  ) {}

  async take(key: string, ratePerSecond: number, burst: number): Promise<boolean> {
    if ((this.takesSincePrune += 1) >= 1000) {
      this.takesSincePrune = 0;
      this.prune().catch((error: unknown) => this.logger.warn({ err: error }, 'pruning rate buckets failed'));
    }
    // `refill`: the tokens now, before this take (never fewer than before: a take that
    // started earlier than the row's refilled_at adds nothing rather than a negative).
    const refill = `LEAST($2::float8, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp() - b.refilled_at)) * $3::float8)`;
    const result = await this.db.query<{ taken: boolean }>(
      `INSERT INTO chat_rate_buckets AS b (bucket, tokens, refilled_at, taken)
       VALUES ($1, $2::float8 - 1, statement_timestamp(), true)
       ON CONFLICT (bucket) DO UPDATE SET
         taken = ${refill} >= 1,
         tokens = ${refill} - CASE WHEN ${refill} >= 1 THEN 1 ELSE 0 END,
         refilled_at = GREATEST(b.refilled_at, statement_timestamp())
       RETURNING taken`,
      [key, burst, ratePerSecond],
    );
    return result.rows[0]?.taken ?? true;
  }

  /** Deletes buckets untouched for a minute: every budget refills within seconds, so they are full. */
  async prune(): Promise<void> {
    await this.db.query(`DELETE FROM chat_rate_buckets WHERE refilled_at < statement_timestamp() - interval '1 minute'`);
  }
}

/**
 * On a PostgreSQL server several processes may serve one user: the send budget is kept
 * in the database so it holds across them. PGlite is one process by nature.
 */
export function sharesSendBudget(db: SqlDatabase, config: Config): boolean {
  return db.kind === 'postgres' && config.sendRateLimit > 0;
}
