import { PGlite } from '@electric-sql/pglite';
import { DataDirLock } from './dataDirLock';
import type { SqlDatabase, SqlExecutor } from './sqlDatabase';

/**
 * Embedded PostgreSQL (PGlite, WebAssembly) in this process: the default when no
 * DATABASE_URL is set. One connection, so statements and transactions run one at a
 * time; only one process may open a data directory.
 */
export class PgliteDatabase implements SqlDatabase {
  readonly kind = 'pglite' as const;

  private constructor(
    private readonly db: PGlite,
    private readonly lock: DataDirLock | null,
  ) {}

  /**
   * `dataDir` undefined keeps everything in memory. A directory another process has
   * open is refused with DataDirInUseError (one line naming the pid).
   */
  static async open(dataDir?: string): Promise<PgliteDatabase> {
    const lock = dataDir === undefined ? null : DataDirLock.acquire(dataDir);
    try {
      const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
      await db.waitReady;
      return new PgliteDatabase(db, lock);
    } catch (error) {
      lock?.release();
      throw error;
    }
  }

  async query<Row extends object>(text: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number }> {
    const result = await this.db.query<Row>(text, params);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options: { firstStatement?: string } = {}): Promise<T> {
    return this.db.transaction(async (tx) => {
      if (options.firstStatement !== undefined) await tx.exec(options.firstStatement);
      return work({
        query: async <Row extends object>(text: string, params?: unknown[]) => {
          const result = await tx.query<Row>(text, params);
          return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
        },
      });
    });
  }

  async exec(script: string): Promise<void> {
    await this.db.exec(script);
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    const unsubscribe = await this.db.listen(channel, onNotify);
    return async () => unsubscribe();
  }

  async close(): Promise<void> {
    try {
      if (!this.db.closed) await this.db.close();
    } finally {
      this.lock?.release();
    }
  }
}
