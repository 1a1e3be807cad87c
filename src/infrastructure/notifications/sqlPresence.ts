import { randomUUID } from 'node:crypto';
import type { Logger } from '../../application/ports/logger';
import { PRESENCE_STALE_AFTER_SECONDS, type PresenceTracker } from '../../application/ports/presence';
import type { SqlExecutor, SqlDatabase } from '../sql/sqlDatabase';

const HEARTBEAT_MS = 10_000;

/**
 * Presence in the database the processes share. Each process has an id of its own
 * (new at every start) and a heartbeat row; each user it holds a connection for has a
 * row under that id. Online means: a row under a process whose heartbeat is fresh
 * (PostgreSQL's own clock decides, so processes need not agree on the time). A killed
 * process counts as online for its users until its heartbeat is PRESENCE_STALE_AFTER_SECONDS
 * old; live processes sweep such leftovers away.
 *
 * Writes are made in order, one at a time, off the connection's path: opening or
 * closing a socket never waits for the database.
 */
export class SqlPresence implements PresenceTracker {
  readonly processId = randomUUID();
  private readonly counts = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: SqlDatabase,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => this.enqueue(() => this.beat()), HEARTBEAT_MS);
    this.timer.unref();
  }

  connected(userId: string): void {
    const count = (this.counts.get(userId) ?? 0) + 1;
    this.counts.set(userId, count);
    if (count === 1) {
      this.enqueue(() =>
        this.db
          .query(`INSERT INTO presence_users (process_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [this.processId, userId])
          .then(() => undefined),
      );
    }
  }

  disconnected(userId: string): void {
    const count = (this.counts.get(userId) ?? 0) - 1;
    if (count > 0) {
      this.counts.set(userId, count);
      return;
    }
    this.counts.delete(userId);
    this.enqueue(() =>
      this.db.query(`DELETE FROM presence_users WHERE process_id = $1 AND user_id = $2`, [this.processId, userId]).then(() => undefined),
    );
  }

  /** Removes this process's presence (a clean shutdown): its users are offline at once. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.enqueue(async () => {
      await this.db.query(`DELETE FROM presence_users WHERE process_id = $1`, [this.processId]);
      await this.db.query(`DELETE FROM presence_processes WHERE process_id = $1`, [this.processId]);
    });
    await this.chain;
  }

  private async beat(): Promise<void> {
    await this.db.query(
      `INSERT INTO presence_processes (process_id, heartbeat_at) VALUES ($1, now())
       ON CONFLICT (process_id) DO UPDATE SET heartbeat_at = now()`,
      [this.processId],
    );
    // Leftovers of processes that died without a word.
    const stale = `now() - make_interval(secs => ${PRESENCE_STALE_AFTER_SECONDS * 4})`;
    await this.db.query(`DELETE FROM presence_users WHERE process_id IN (SELECT process_id FROM presence_processes WHERE heartbeat_at < ${stale})`);
    await this.db.query(`DELETE FROM presence_processes WHERE heartbeat_at < ${stale}`);
  }

  private enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(work).catch((error: unknown) => this.logger.warn({ err: error }, 'presence update failed'));
  }
}

/** Whether the user has a live connection in any process right now. */
export async function isOnline(db: SqlExecutor, userId: string): Promise<boolean> {
  const result = await db.query<{ online: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM presence_users u JOIN presence_processes p USING (process_id)
        WHERE u.user_id = $1 AND p.heartbeat_at > now() - make_interval(secs => ${PRESENCE_STALE_AFTER_SECONDS})
     ) AS online`,
    [userId],
  );
  return result.rows[0]?.online === true;
}
