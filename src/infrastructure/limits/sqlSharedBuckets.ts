import type { Config } from '../../config';
import type { Logger } from '../../application/ports/logger';
import type { SharedBuckets, UnspentTokens } from '../../application/ports/sharedBuckets';
import type { SqlDatabase } from '../sql/sqlDatabase';

/** A take waiting for the next statement. */
interface Take {
  key: string;
  ratePerSecond: number;
  burst: number;
  want: number;
  resolve(granted: number): void;
  reject(error: unknown): void;
}

/** Buckets taken from in one statement at most: a bound on the statement's size, far above what a batch holds. */
const MAX_TAKES_PER_STATEMENT = 500;

/**
 * Token buckets in one PostgreSQL table, so a budget holds across every process on the
 * database. The row lock orders concurrent takes, and the database's clock is the only
 * clock (processes' clocks may disagree). A bucket is `tokens` as of `refilled_at`; a take
 * refills it for the time since, caps it at the burst, then removes as many whole tokens
 * as it holds, up to what was asked (a lease, see UserBudgets). Rows of idle users are
 * deleted now and then: a missing row is a full bucket.
 *
 * Takes are batched as the group commit batches appends: one statement in flight, and
 * the takes asked meanwhile (of many users) go together in the next one, their rows
 * locked in key order so two processes' statements cannot deadlock.
 */
export class SqlSharedBuckets implements SharedBuckets {
  private takesSincePrune = 0;
  private waiting: Take[] = [];
  private inFlight = false;
  private scheduled = false;

  /** Its table is created by the schema migrations (migrateDatabase). */
  constructor(
    private readonly db: SqlDatabase,
    private readonly logger: Logger,
  ) {}

  takeUpTo(key: string, ratePerSecond: number, burst: number, want: number): Promise<number> {
    if ((this.takesSincePrune += 1) >= 1000) {
      this.takesSincePrune = 0;
      this.prune().catch((error: unknown) => this.logger.warn({ err: error }, 'pruning rate buckets failed'));
    }
    // Never more than the burst: a take can get no more, and the statement below relies on it.
    const asked = Math.max(1, Math.min(Math.floor(want), Math.floor(burst)));
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, ratePerSecond, burst, want: asked, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight || this.scheduled) return;
    this.scheduled = true;
    // A microtask, not a timer: the takes asked in this same tick share the statement.
    queueMicrotask(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.waiting.length === 0) return;
    this.inFlight = true;
    const batch = this.nextBatch();
    try {
      const granted = await this.takeAll(batch);
      for (const take of batch) take.resolve(granted.get(take.key) ?? 0);
    } catch (error) {
      for (const take of batch) take.reject(error);
    } finally {
      this.inFlight = false;
      if (this.waiting.length > 0) this.schedule();
    }
  }

  /**
   * The oldest take and those waiting with the same rate and burst, one per key (a
   * statement may not update a row twice); the rest wait for the next statement.
   */
  private nextBatch(): Take[] {
    const first = this.waiting[0] as Take;
    const batch: Take[] = [];
    const keys = new Set<string>();
    const rest: Take[] = [];
    for (const take of this.waiting) {
      const fits = take.ratePerSecond === first.ratePerSecond && take.burst === first.burst && !keys.has(take.key);
      if (fits && batch.length < MAX_TAKES_PER_STATEMENT) {
        batch.push(take);
        keys.add(take.key);
      } else rest.push(take);
    }
    this.waiting = rest;
    return batch;
  }

  /** One statement for the batch: the tokens granted, by key. */
  private async takeAll(batch: readonly Take[]): Promise<Map<string, number>> {
    const { ratePerSecond, burst } = batch[0] as Take;
    // `refill`: the tokens now, before this take (never fewer than before: a take that
    // started earlier than the row's refilled_at adds nothing rather than a negative).
    // What was asked comes in as EXCLUDED.granted: a new row grants all of it (asks never
    // exceed the burst). Every SET expression reads the row as it was, so `granted` and
    // `tokens` agree. `taken` is still written for processes of the release before leases.
    const refill = `LEAST($2::float8, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp() - b.refilled_at)) * $3::float8)`;
    const grant = `LEAST(EXCLUDED.granted, floor(${refill}))::int`;
    const result = await this.db.query<{ bucket: string; granted: number }>(
      `INSERT INTO chat_rate_buckets AS b (bucket, tokens, refilled_at, taken, granted)
       SELECT r.bucket, $2::float8 - r.want, statement_timestamp(), true, r.want
       FROM unnest($1::text[], $4::int[]) AS r(bucket, want)
       ORDER BY r.bucket
       ON CONFLICT (bucket) DO UPDATE SET
         granted = ${grant},
         taken = ${grant} >= 1,
         tokens = ${refill} - ${grant},
         refilled_at = GREATEST(b.refilled_at, statement_timestamp())
       RETURNING bucket, granted`,
      [batch.map((t) => t.key), burst, ratePerSecond, batch.map((t) => t.want)],
    );
    return new Map(result.rows.map((row) => [row.bucket, Number(row.granted)]));
  }

  async giveBack(unspent: readonly UnspentTokens[]): Promise<void> {
    if (unspent.length === 0) return;
    // One entry a bucket: a statement may not update a row twice.
    const byKey = new Map<string, UnspentTokens>();
    for (const u of unspent) {
      const seen = byKey.get(u.key);
      byKey.set(u.key, seen === undefined ? u : { ...seen, tokens: seen.tokens + u.tokens });
    }
    const rows = [...byKey.values()];
    // One statement for every bucket: returning leases must not cost what they save. An
    // upsert in key order, as the takes lock rows, so the two cannot deadlock: the burst
    // comes in as EXCLUDED.tokens (a missing row is a full bucket, and is written as one),
    // the tokens given back as EXCLUDED.granted.
    await this.db.query(
      `INSERT INTO chat_rate_buckets AS b (bucket, tokens, refilled_at, taken, granted)
       SELECT r.bucket, r.burst, statement_timestamp(), false, r.tokens
       FROM unnest($1::text[], $2::int[], $3::float8[]) AS r(bucket, tokens, burst)
       ORDER BY r.bucket
       ON CONFLICT (bucket) DO UPDATE SET tokens = LEAST(EXCLUDED.tokens, b.tokens + EXCLUDED.granted)`,
      [rows.map((u) => u.key), rows.map((u) => Math.floor(u.tokens)), rows.map((u) => u.burst)],
    );
  }

  /**
   * Deletes buckets untouched for a minute: every budget refills within seconds, so they
   * are full. Rows a take holds are skipped (left for the next prune), so the delete never
   * waits for a take and the two cannot deadlock.
   */
  async prune(): Promise<void> {
    await this.db.query(
      `DELETE FROM chat_rate_buckets WHERE bucket IN (
         SELECT bucket FROM chat_rate_buckets WHERE refilled_at < statement_timestamp() - interval '1 minute' FOR UPDATE SKIP LOCKED)`,
    );
  }
}

/**
 * On a PostgreSQL server several processes may serve one user: the send budget is kept
 * in the database so it holds across them. PGlite is one process by nature.
 */
export function sharesSendBudget(db: SqlDatabase, config: Config): boolean {
  return db.kind === 'postgres' && config.sendRateLimit > 0;
}
