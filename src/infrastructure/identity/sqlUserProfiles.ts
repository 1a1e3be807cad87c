import type { Logger } from '../../application/ports/logger';
import type { UserProfile, UserProfiles } from '../../application/ports/userProfiles';
import type { SqlExecutor } from '../sql/sqlDatabase';

/**
 * The latest profile seen per user, in `user_profiles`. A process remembers what it last
 * wrote for each user (a bounded map), so a request costs nothing unless the user's
 * token says something new; the write itself does not change a row that already holds
 * the same, so several processes converge without churn. Writes are not awaited: a
 * failed one is logged and tried again with the user's next request.
 */
export class SqlUserProfiles implements UserProfiles {
  private readonly written = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly db: SqlExecutor,
    private readonly logger: Logger,
    private readonly remembered = 10_000,
  ) {}

  noteSeen(userId: string, profile: UserProfile): void {
    const key = JSON.stringify([profile.name, profile.picture]);
    if (this.written.get(userId) === key) return;
    // Claimed before the write: a burst of requests with the same new token writes once.
    this.remember(userId, key);
    const write = this.db
      .query(
        // Never again for an erased user (a process that has not heard of the erasure yet).
        `INSERT INTO user_profiles (user_id, name, picture)
         SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM user_erasures WHERE user_id = $1)
         ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, picture = excluded.picture, updated_at = now()
         WHERE user_profiles.name IS DISTINCT FROM excluded.name OR user_profiles.picture IS DISTINCT FROM excluded.picture`,
        [userId, profile.name, profile.picture],
      )
      .then(
        () => undefined,
        (error: unknown) => {
          if (this.written.get(userId) === key) this.written.delete(userId);
          this.logger.warn({ err: error, userId }, 'recording a user profile failed; the next request tries again');
        },
      )
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  /** Resolves when every write started so far has finished (for shutdown and tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private remember(userId: string, key: string): void {
    this.written.delete(userId);
    this.written.set(userId, key);
    // Forget the least recently changed: its next request writes once more, harmlessly.
    if (this.written.size > this.remembered) this.written.delete(this.written.keys().next().value as string);
  }
}
