import type { EventStore, RecordedEvent } from '../../application/ports/eventStore';
import type { Logger } from '../../application/ports/logger';
import type { ProjectionProgress } from '../../application/ports/readModels';
import { CheckpointedFollower } from '../checkpointedFollower';
import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';

/**
 * A projection: the tables it owns, and how a batch of events changes them. A rebuild
 * empties only these tables, so projections never touch each other's rows.
 */
export interface Projection {
  /** Its row in rm_projection_checkpoints, and part of its lock's key. */
  name: string;
  /** Every table it writes, emptied by a rebuild. */
  tables: readonly string[];
  /** Applies a batch of events, in order, inside the transaction that moves the checkpoint. */
  applyBatch(tx: SqlExecutor, events: readonly RecordedEvent[]): Promise<void>;
}

export interface ProjectionRunnerOptions {
  projection: Projection;
  db: SqlDatabase;
  eventStore: EventStore;
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
 * Follows the event store into one projection's tables: a checkpointed follower
 * (checkpointedFollower.ts) with its lock per projection, that also tells every process
 * how far the read models are (`waitFor`), through a notification sent with each moved
 * checkpoint.
 */
export class ProjectionRunner implements ProjectionProgress {
  private known: string | null = null;
  private waiters = new Set<{ checkpoint: string; resolve: (ok: boolean) => void }>();
  private unlisten: (() => Promise<void>) | null = null;
  private readonly follower: CheckpointedFollower;
  private readonly batchSize: number;

  constructor(private readonly options: ProjectionRunnerOptions) {
    const { projection } = options;
    this.batchSize = options.batchSize ?? 1000;
    this.follower = new CheckpointedFollower({
      name: projection.name,
      label: 'projection',
      lockKey: `chat:projection:${projection.name}`,
      checkpoints: { table: 'rm_projection_checkpoints', keyColumn: 'projection' },
      db: options.db,
      eventStore: options.eventStore,
      logger: options.logger,
      applyBatch: (tx, events) => projection.applyBatch(tx, events),
      batchSize: this.batchSize,
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
      doorbell: 'required',
      notifyChannel: PROJECTED_CHANNEL,
      onProgress: (checkpoint) => this.observe(checkpoint),
    });
  }

  async start(): Promise<void> {
    const stored = await this.follower.checkpoint();
    if (stored !== null && this.options.isCurrentCheckpoint?.(stored) === false) {
      this.options.logger.warn({ projection: this.options.projection.name, checkpoint: stored }, 'projection checkpoint is of an older format: rebuilding the read models');
      await this.rebuild();
    }
    this.known = await this.follower.checkpoint();
    this.unlisten = await this.options.db.listen(PROJECTED_CHANNEL, (payload) => this.observe(payload || null));
    await this.follower.start();
  }

  async stop(): Promise<void> {
    await this.follower.stop();
    await this.unlisten?.();
    for (const waiter of this.waiters) waiter.resolve(false);
    this.waiters.clear();
  }

  /** Look for new events now (coalesced: at most one pump runs, and one more is queued). */
  wake(): void {
    this.follower.wake();
  }

  /** Applies everything up to the store's current head. */
  catchUp(): Promise<void> {
    return this.follower.catchUp();
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
    const from = await this.follower.checkpoint();
    const next = await this.options.eventStore.readAll(from, 1);
    return next.length === 0;
  }

  /** The checkpoint the read models are at, as stored. */
  checkpoint(): Promise<string | null> {
    return this.follower.checkpoint();
  }

  /**
   * Replays every event into this projection's emptied tables (no other's), in one
   * transaction: readers keep seeing the old rows until the rebuilt ones commit.
   *
   * PGlite is a single connection: a read of the event store from inside the
   * transaction would queue behind the transaction itself and never run. There the
   * events are read first and then applied; a PGlite store is an embedded, small one.
   * On a PostgreSQL server they are read batch by batch on another connection.
   */
  async rebuild(): Promise<void> {
    const { projection } = this.options;
    const batchSize = this.batchSize;
    const readFirst = this.options.db.kind === 'pglite' ? await this.readEverything(batchSize) : null;
    await this.options.db.transaction(async (tx) => {
      await this.follower.lock(tx);
      for (const table of projection.tables) await tx.query(`DELETE FROM ${table}`);
      await this.follower.deleteCheckpoint(tx);
      let from: string | null = null;
      for (let offset = 0; ; offset += batchSize) {
        const events: RecordedEvent[] = readFirst?.slice(offset, offset + batchSize) ?? (await this.options.eventStore.readAll(from, batchSize));
        await projection.applyBatch(tx, events);
        const last = events.at(-1);
        if (last === undefined) break;
        from = last.checkpoint;
        await this.follower.saveCheckpoint(tx, from);
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

  private observe(checkpoint: string | null): void {
    if (checkpoint === null || (this.known !== null && this.known >= checkpoint)) return;
    this.known = checkpoint;
    for (const waiter of this.waiters) if (waiter.checkpoint <= checkpoint) waiter.resolve(true);
  }
}
