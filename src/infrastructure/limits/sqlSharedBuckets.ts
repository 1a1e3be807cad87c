import type { Config } from '../../config';
import type { Logger } from '../../application/ports/logger';
import type { SharedBuckets, UnspentTokens } from '../../application/ports/sharedBuckets';
import type { SqlDatabase } from '../sql/sqlDatabase';

/**
 * Token buckets in one PostgreSQL table, so a budget holds across every process on the
 * database. One statement per take: the row lock orders concurrent takes, and the
 * database's clock is the only clock (processes' clocks may disagree). A bucket is
 * `tokens` as of `refilled_at`; a take refills it for the time since, caps it at the
 * burst, then removes one token if there is one. Rows of idle users are deleted now and
 * then: a missing row is a full bucket. A take asks for several tokens at once (a lease,
 * see UserBudgets) and gets as many whole tokens as the bucket holds, up to that.
 */
export class SqlSharedBuckets implements SharedBuckets {
  private takesSincePrune = 0;

  /** Its table is created by the schema migrations (migrateDatabase). */
  constructor(
    private readonly db: SqlDatabase,
    private readonly logger: Logger,
  ) {}

  async takeUpTo(key: string, ratePerSecond: number, burst: number, want: number): Promise<number> {
    if ((this.takesSincePrune += 1) >= 1000) {
      this.takesSincePrune = 0;
      this.prune().catch((error: unknown) => this.logger.warn({ err: error }, 'pruning rate buckets failed'));
    }
    // `refill`: the tokens now, before this take (never fewer than before: a take that
    // started earlier than the row's refilled_at adds nothing rather than a negative).
    // Every SET expression reads the row as it was, so `granted` and `tokens` agree.
    // `taken` is still written for processes of the release before leases.
    const refill = `LEAST($2::float8, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp() - b.refilled_at)) * $3::float8)`;
    const grant = `LEAST($4::int, floor(${refill}))::int`;
    const result = await this.db.query<{ granted: number }>(
      `INSERT INTO chat_rate_buckets AS b (bucket, tokens, refilled_at, taken, granted)
       VALUES ($1, $2::float8 - LEAST($4::int, floor($2::float8)), statement_timestamp(), $4::int >= 1, LEAST($4::int, floor($2::float8))::int)
       ON CONFLICT (bucket) DO UPDATE SET
         granted = ${grant},
         taken = ${grant} >= 1,
         tokens = ${refill} - ${grant},
         refilled_at = GREATEST(b.refilled_at, statement_timestamp())
       RETURNING granted`,
      [key, burst, ratePerSecond, want],
    );
    return Number(result.rows[0]?.granted ?? want);
  }

  async giveBack(unspent: readonly UnspentTokens[]): Promise<void> {
    if (unspent.length === 0) return;
    // One statement for every bucket: returning leases must not cost what they save.
    await this.db.query(
      `UPDATE chat_rate_buckets AS b SET tokens = LEAST(r.burst, b.tokens + r.tokens)
       FROM unnest($1::text[], $2::float8[], $3::float8[]) AS r(bucket, tokens, burst)
       WHERE b.bucket = r.bucket`,
      [unspent.map((u) => u.key), unspent.map((u) => u.tokens), unspent.map((u) => u.burst)],
    );
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
