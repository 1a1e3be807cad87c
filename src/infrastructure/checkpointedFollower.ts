import type { EventStore, RecordedEvent, Subscription } from '../application/ports/eventStore';
import type { Logger } from '../application/ports/logger';
import { CoalescedPump } from './coalescedPump';
import type { SqlDatabase, SqlExecutor } from './sql/sqlDatabase';

/** Where a follower keeps its checkpoint: one row, keyed by the follower's name, of a two-column table. */
export interface CheckpointRow {
  table: 'rm_projection_checkpoints' | 'notify_checkpoints';
  keyColumn: 'projection' | 'feeder';
}

export interface CheckpointedFollowerOptions {
  /** The follower's name: its row in the checkpoint table. */
  name: string;
  /** What the logs call it ("projection", "notification feeder"). */
  label: string;
  /** The advisory lock every process running this follower takes around a batch. */
  lockKey: string;
  checkpoints: CheckpointRow;
  db: SqlDatabase;
  eventStore: EventStore;
  logger: Logger;
  /**
   * Applies the events after the stored checkpoint, in order, inside the transaction that
   * moves the checkpoint past them. `previous` is the checkpoint before them (null: the
   * follower's very first batch).
   */
  applyBatch(tx: SqlExecutor, events: readonly RecordedEvent[], previous: string | null): Promise<void>;
  batchSize: number;
  /** Fallback when a wake-up is missed: how often to look for new events anyway. */
  pollIntervalMs?: number;
  /** How long a wake-up waits for more to gather into the same batch (0: none). */
  gatherMs?: number;
  /**
   * Whether new events in the store wake the follower at once: `required` (start fails
   * without it), `best-effort` (a failure leaves the poll), `off` (the poll only).
   */
  doorbell: 'required' | 'best-effort' | 'off';
  /** Sends each moved checkpoint on this PostgreSQL channel, in the statement that saves it. */
  notifyChannel?: string;
  /** Called with the checkpoint read before each batch and the one it reached. */
  onProgress?(checkpoint: string | null): void;
}

/** A batch whose checkpoint had moved by the time it was applied (see applyBatchAfter). */
const MOVED = Symbol('checkpoint moved');

/**
 * A checkpointed follower of the event store: reads batches after its stored checkpoint
 * and applies each in one transaction that also moves the checkpoint, under an advisory
 * lock. Any number of processes may run the same follower: one applies each batch, the
 * others find the checkpoint already past it (the events at or before the checkpoint
 * read under the lock are passed over). A crash leaves the checkpoint behind, and the next
 * run applies what is missing, once. Woken by the store's signal (or a doorbell
 * subscription), and by a timer in case a signal is missed.
 */
export class CheckpointedFollower {
  private doorbellSubscription: Subscription | null = null;
  private unlistenAppends: Promise<(() => Promise<void>) | null> = Promise.resolve(null);
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private readonly pump: CoalescedPump;

  constructor(private readonly options: CheckpointedFollowerOptions) {
    this.pump = new CoalescedPump(
      () => this.catchUp(),
      (error) => this.options.logger.error({ err: error, follower: this.options.name }, `${this.options.label} batch failed; will retry`),
    );
  }

  async start(): Promise<void> {
    await this.ringOnAppends();
    this.timer = setInterval(() => this.wake(), this.options.pollIntervalMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  /** No batch starts after this; resolves once the one under way (if any) has ended. */
  async stop(): Promise<void> {
    // First, so no wake-up from here on starts another batch.
    const pumped = this.pump.stop();
    if (this.timer !== null) clearInterval(this.timer);
    await this.doorbellSubscription?.stop();
    await (await this.unlistenAppends)?.();
    await pumped;
  }

  /** Look for new events (coalesced: at most one batch runs, and one more is queued). */
  wake(): void {
    const gatherMs = this.options.gatherMs ?? 0;
    if (gatherMs <= 0) {
      this.pump.wake();
      return;
    }
    // Wake-ups within a few milliseconds become one batch: a burst costs one transaction, not one each.
    if (this.pump.isStopped || this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.pump.wake();
    }, gatherMs).unref();
  }

  get isStopped(): boolean {
    return this.pump.isStopped;
  }

  /** Applies everything up to the store's current head. */
  async catchUp(): Promise<void> {
    const { batchSize } = this.options;
    while (!this.pump.isStopped) {
      const from = await this.checkpoint();
      this.options.onProgress?.(from);
      const events = await this.options.eventStore.readAll(from, batchSize);
      if (events.length === 0) return;
      const reached = this.options.db.kind === 'pglite' ? await this.applyBatchAfter(from, events) : await this.applyBatch(events);
      // Moved meanwhile (a rebuild): read the checkpoint again.
      if (reached === MOVED) continue;
      this.options.onProgress?.(reached);
      if (events.length < batchSize) return;
    }
  }

  /** The checkpoint as stored (read through `db`, a transaction's or the pool). */
  async checkpoint(db: SqlExecutor = this.options.db): Promise<string | null> {
    const { table, keyColumn } = this.options.checkpoints;
    const result = await db.query<{ checkpoint: string }>(`SELECT checkpoint FROM ${table} WHERE ${keyColumn} = $1`, [this.options.name]);
    return result.rows[0]?.checkpoint ?? null;
  }

  /** Moves the stored checkpoint (without a notification: for a rebuild, whose readers look when it commits). */
  async saveCheckpoint(tx: SqlExecutor, checkpoint: string): Promise<void> {
    const { table, keyColumn } = this.options.checkpoints;
    await tx.query(
      `INSERT INTO ${table} (${keyColumn}, checkpoint) VALUES ($1, $2)
       ON CONFLICT (${keyColumn}) DO UPDATE SET checkpoint = excluded.checkpoint`,
      [this.options.name, checkpoint],
    );
  }

  async deleteCheckpoint(tx: SqlExecutor): Promise<void> {
    const { table, keyColumn } = this.options.checkpoints;
    await tx.query(`DELETE FROM ${table} WHERE ${keyColumn} = $1`, [this.options.name]);
  }

  /** Takes the follower's lock in a transaction of its own making (a rebuild). */
  async lock(tx: SqlExecutor): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [this.options.lockKey]);
  }

  /** One batch: the events past the checkpoint read under the lock, applied, and the checkpoint moved. Returns the checkpoint reached. */
  private applyBatch(events: readonly RecordedEvent[]): Promise<string | null> {
    return this.options.db.transaction(
      async (tx) => {
        // Another process may have applied some of these while we were reading them.
        const current = await this.checkpoint(tx);
        const fresh = current === null ? events : events.filter((event) => event.checkpoint > current);
        if (fresh.length > 0) await this.options.applyBatch(tx, fresh, current);
        const reached = fresh.at(-1)?.checkpoint ?? current;
        if (reached !== null && reached !== current) await this.moveCheckpoint(tx, reached);
        return reached;
      },
      // The lock, sent with BEGIN: one round trip fewer per batch.
      { firstStatement: this.lockStatement() },
    );
  }

  private lockStatement(): string {
    return `SELECT pg_advisory_xact_lock(hashtextextended('${this.options.lockKey.replaceAll("'", "''")}', 0))`;
  }

  /**
   * One batch on the embedded database, in one message to its thread: the lock, the
   * batch's statements and the move of the checkpoint, sent together and run back to
   * back, with no read in between to wait for. One process owns an embedded database
   * (its data directory's lock), so the checkpoint is still `from`, as read before the
   * events, unless a rebuild in this process moved it meanwhile: the move is made only
   * from `from`, and a batch whose move found another checkpoint is rolled back (MOVED).
   */
  private async applyBatchAfter(from: string | null, events: readonly RecordedEvent[]): Promise<string | null | typeof MOVED> {
    const reached = (events.at(-1) as RecordedEvent).checkpoint;
    const { table, keyColumn } = this.options.checkpoints;
    const channel = this.options.notifyChannel;
    // Sent first, so known before the batch's statements: a batch applied on top of a
    // moved checkpoint may fail (a duplicate key) as well as find it moved.
    let moved: boolean | undefined;
    try {
      return await this.options.db.transaction(
        async (tx) => {
          await Promise.all([
            tx
              .query(
                `WITH saved AS (
                   ${
                     from === null
                       ? `INSERT INTO ${table} (${keyColumn}, checkpoint) VALUES ($1, $2) ON CONFLICT (${keyColumn}) DO NOTHING`
                       : `UPDATE ${table} SET checkpoint = $2 WHERE ${keyColumn} = $1 AND checkpoint = $3`
                   }
                   RETURNING checkpoint
                 )
                 SELECT ${channel === undefined ? 'saved.checkpoint' : `pg_notify($${from === null ? 3 : 4}, saved.checkpoint)`} FROM saved`,
                [this.options.name, reached, ...(from === null ? [] : [from]), ...(channel === undefined ? [] : [channel])],
              )
              .then((result) => (moved = result.rows.length === 0)),
            this.options.applyBatch(tx, events, from),
          ]);
          if (moved === true) throw MOVED;
          return reached;
        },
        { firstStatement: this.lockStatement() },
      );
    } catch (error) {
      if (error === MOVED || moved === true) return MOVED;
      throw error;
    }
  }

  private async moveCheckpoint(tx: SqlExecutor, checkpoint: string): Promise<void> {
    const channel = this.options.notifyChannel;
    if (channel === undefined) return this.saveCheckpoint(tx, checkpoint);
    const { table, keyColumn } = this.options.checkpoints;
    // The checkpoint and its notification in one statement.
    await tx.query(
      `WITH saved AS (
         INSERT INTO ${table} (${keyColumn}, checkpoint) VALUES ($1, $2)
         ON CONFLICT (${keyColumn}) DO UPDATE SET checkpoint = excluded.checkpoint
         RETURNING checkpoint
       )
       SELECT pg_notify($3, saved.checkpoint) FROM saved`,
      [this.options.name, checkpoint, channel],
    );
  }

  private async ringOnAppends(): Promise<void> {
    const { doorbell, eventStore: store, logger } = this.options;
    if (doorbell === 'off') return;
    // The store's own signal where it has one: a subscription would read every event only to ring.
    if (store.onAppended !== undefined) {
      const listening = store.onAppended(() => this.wake());
      if (doorbell === 'required') {
        this.unlistenAppends = Promise.resolve(await listening);
        return;
      }
      this.unlistenAppends = listening.catch((error: unknown) => {
        logger.warn({ err: error, follower: this.options.name }, `${this.options.label} could not listen for appends; polling only`);
        return null;
      });
      return;
    }
    this.doorbellSubscription = store.subscribeToAll(
      { from: 'end' },
      {
        onEvent: async () => this.wake(),
        onError: (error) => logger.warn({ err: error, follower: this.options.name }, `${this.options.label} wake-up subscription failed; retrying`),
      },
    );
  }
}
