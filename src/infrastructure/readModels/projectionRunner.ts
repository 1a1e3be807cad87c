import type { EventStore, RecordedEvent, Subscription } from '../../application/ports/eventStore';
import type { Logger } from '../../application/ports/logger';
import type { ProjectionProgress } from '../../application/ports/readModels';
import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';
import { CoalescedPump } from '../coalescedPump';
import { readModelTables } from './schema';

export interface ProjectionRunnerOptions {
  name: string;
  db: SqlDatabase;
  eventStore: EventStore;
  /** Applies a batch of events, in order, inside the transaction that moves the checkpoint. */
  applyBatch(tx: SqlExecutor, events: readonly RecordedEvent[]): Promise<void>;
  logger: Logger;
  /**
   * False for a stored checkpoint the store no longer reads (an older format): the
   * projection then rebuilds from zero instead of guessing where it was.
   */
  isCurrentCheckpoint?(checkpoint: string): boolean;
  batchSize?: number;
  /** Fallback when a wake-up is missed: how often to look for new events anyway. */
  pollIntervalMs?: number;
}

const PROJECTED_CHANNEL = 'chat_projected';

/**
 * Follows the event store into the read models. Each batch is applied in one
 * transaction that also moves the checkpoint, under an advisory lock taken per
 * projection: any number of server processes may run the same projection, one of
 * them applies each batch, and the others find the checkpoint already past it.
 * A crash between append and projection leaves the checkpoint behind; the next
 * run applies what is missing, once.
 */
export class ProjectionRunner implements ProjectionProgress {
  private known: string | null = null;
  private waiters = new Set<{ checkpoint: string; resolve: (ok: boolean) => void }>();
  private wakeSubscription: Subscription | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private unlistenAppends: (() => Promise<void>) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly pump: CoalescedPump;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.pump = new CoalescedPump(
      () => this.catchUp(),
      (error) => this.options.logger.error({ err: error, projection: this.options.name }, 'projection batch failed; will retry'),
    );
  }

  async start(): Promise<void> {
    const stored = await this.storedCheckpoint(this.options.db);
    if (stored !== null && this.options.isCurrentCheckpoint?.(stored) === false) {
      this.options.logger.warn({ projection: this.options.name, checkpoint: stored }, 'projection checkpoint is of an older format: rebuilding the read models');
      await this.rebuild();
    }
    this.known = await this.storedCheckpoint(this.options.db);
    this.unlisten = await this.options.db.listen(PROJECTED_CHANNEL, (payload) => this.observe(payload || null));
    // New events in the store wake the pump: by the store's own signal where it has one,
    // else through a subscription used only as a doorbell.
    const store = this.options.eventStore;
    if (store.onAppended !== undefined) {
      this.unlistenAppends = await store.onAppended(() => this.wake());
    } else {
      this.wakeSubscription = store.subscribeToAll(
        { from: 'end' },
        {
          onEvent: async () => this.wake(),
          onError: (error) => this.options.logger.warn({ err: error }, 'projection wake-up subscription failed; retrying'),
        },
      );
    }
    this.timer = setInterval(() => this.wake(), this.options.pollIntervalMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    // First, so no wake-up from here on starts another batch.
    const pumped = this.pump.stop();
    if (this.timer !== null) clearInterval(this.timer);
    await this.wakeSubscription?.stop();
    await this.unlistenAppends?.();
    await this.unlisten?.();
    await pumped;
    for (const waiter of this.waiters) waiter.resolve(false);
    this.waiters.clear();
  }

  /** Look for new events now (coalesced: at most one pump runs, and one more is queued). */
  wake(): void {
    this.pump.wake();
  }

  /** Applies everything up to the store's current head. */
  async catchUp(): Promise<void> {
    const batchSize = this.options.batchSize ?? 1000;
    for (;;) {
      const from = await this.storedCheckpoint(this.options.db);
      this.observe(from);
      const events = await this.options.eventStore.readAll(from, batchSize);
      if (events.length === 0) return;
      const reached = await this.applyBatch(events);
      this.observe(reached);
      if (events.length < batchSize) return;
    }
  }

  waitFor(checkpoint: string, timeoutMs = 5000): Promise<boolean> {
    if (this.known !== null && this.known >= checkpoint) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        checkpoint,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.waiters.add(waiter);
      this.wake();
    });
  }

  async caughtUp(): Promise<boolean> {
    const from = await this.storedCheckpoint(this.options.db);
    const next = await this.options.eventStore.readAll(from, 1);
    return next.length === 0;
  }

  /** The checkpoint the read models are at, as stored. */
  checkpoint(): Promise<string | null> {
    return this.storedCheckpoint(this.options.db);
  }

  /**
   * Replays every event into empty read models, in one transaction: readers keep
   * seeing the old rows until the rebuilt ones commit.
   *
   * PGlite is a single connection: a read of the event store from inside the
   * transaction would queue behind the transaction itself and never run. There the
   * events are read first and then applied; a PGlite store is an embedded, small one.
   * On a PostgreSQL server they are read batch by batch on another connection.
   */
  async rebuild(): Promise<void> {
    const batchSize = this.options.batchSize ?? 1000;
    const readFirst = this.options.db.kind === 'pglite' ? await this.readEverything(batchSize) : null;
    await this.options.db.transaction(async (tx) => {
      await this.lock(tx);
      for (const table of readModelTables) await tx.query(`DELETE FROM ${table}`);
      await tx.query(`DELETE FROM rm_projection_checkpoints WHERE projection = $1`, [this.options.name]);
      let from: string | null = null;
      for (let offset = 0; ; offset += batchSize) {
        const events: RecordedEvent[] = readFirst?.slice(offset, offset + batchSize) ?? (await this.options.eventStore.readAll(from, batchSize));
        await this.options.applyBatch(tx, events);
        const last = events.at(-1);
        if (last === undefined) break;
        from = last.checkpoint;
        await this.saveCheckpoint(tx, from);
        if (events.length < batchSize) break;
      }
    });
  }

  private async readEverything(batchSize: number): Promise<RecordedEvent[]> {
    const all: RecordedEvent[] = [];
    for (;;) {
      const events = await this.options.eventStore.readAll(all.at(-1)?.checkpoint ?? null, batchSize);
      all.push(...events);
      if (events.length < batchSize) return all;
    }
  }

  private async applyBatch(events: RecordedEvent[]): Promise<string | null> {
    return this.options.db.transaction(
      async (tx) => {
        // Another process may have applied some of these while we were reading them.
        const current = await this.storedCheckpoint(tx);
        const fresh = current === null ? events : events.filter((event) => event.checkpoint > current);
        if (fresh.length > 0) await this.options.applyBatch(tx, fresh);
        const reached = fresh.at(-1)?.checkpoint ?? current;
        if (reached !== null && reached !== current) {
          // The checkpoint and its notification in one statement.
          await tx.query(
            `WITH saved AS (
               INSERT INTO rm_projection_checkpoints (projection, checkpoint) VALUES ($1, $2)
               ON CONFLICT (projection) DO UPDATE SET checkpoint = excluded.checkpoint
               RETURNING checkpoint
             )
             SELECT pg_notify($3, saved.checkpoint) FROM saved`,
            [this.options.name, reached, PROJECTED_CHANNEL],
          );
        }
        return reached;
      },
      // The projection's lock, sent with BEGIN.
      { firstStatement: this.lockStatement() },
    );
  }

  private lockStatement(): string {
    const key = `chat:projection:${this.options.name}`.replaceAll("'", "''");
    return `SELECT pg_advisory_xact_lock(hashtextextended('${key}', 0))`;
  }

  private async lock(tx: SqlExecutor): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`chat:projection:${this.options.name}`]);
  }

  private async saveCheckpoint(tx: SqlExecutor, checkpoint: string): Promise<void> {
    await tx.query(
      `INSERT INTO rm_projection_checkpoints (projection, checkpoint) VALUES ($1, $2)
       ON CONFLICT (projection) DO UPDATE SET checkpoint = excluded.checkpoint`,
      [this.options.name, checkpoint],
    );
  }

  private async storedCheckpoint(db: SqlExecutor): Promise<string | null> {
    const result = await db.query<{ checkpoint: string }>(
      `SELECT checkpoint FROM rm_projection_checkpoints WHERE projection = $1`,
      [this.options.name],
    );
    return result.rows[0]?.checkpoint ?? null;
  }

  private observe(checkpoint: string | null): void {
    if (checkpoint === null || (this.known !== null && this.known >= checkpoint)) return;
    this.known = checkpoint;
    for (const waiter of this.waiters) if (waiter.checkpoint <= checkpoint) waiter.resolve(true);
  }
}
