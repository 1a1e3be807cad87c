import { Client, Pool, type PoolConfig } from 'pg';
import { reachingDatabase } from './databaseUnreachable';
import type { SqlDatabase, SqlExecutor } from './sqlDatabase';

export interface PgDatabaseOptions {
  connectionString: string;
  maxConnections?: number;
  onListenerError?: (error: unknown) => void;
}

/**
 * PostgreSQL over a `pg` pool; LISTEN runs on a dedicated connection that reconnects by
 * itself. A server that cannot be reached fails queries and transactions with
 * DatabaseUnreachableError (the contract's `unavailable`), not a raw socket error.
 */
export class PgDatabase implements SqlDatabase {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;
  private listeners: Array<() => Promise<void>> = [];

  constructor(private readonly options: PgDatabaseOptions) {
    const config: PoolConfig = {
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      // A server that does not answer (a network partition) fails requests instead of holding them for ever.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    };
    this.pool = new Pool(config);
    // An idle client losing its server must not crash the process; the pool replaces it.
    this.pool.on('error', (error) => options.onListenerError?.(error));
  }

  async query<Row extends object>(text: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number }> {
    const result = await reachingDatabase(() => this.pool.query(text, params as unknown[]));
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options: { firstStatement?: string } = {}): Promise<T> {
    const client = await reachingDatabase(() => this.pool.connect());
    // Statements made without awaiting the one before (SqlDatabase.transaction) queue
    // here, each sent when the last has answered, whatever its outcome: what `pg` did on
    // its own until it deprecated a second query on a busy client.
    let last: Promise<unknown> = Promise.resolve();
    const inTurn = <R>(run: () => Promise<R>): Promise<R> => {
      const next = last.then(run, run);
      last = next.catch(() => undefined);
      return next;
    };
    try {
      // One simple-protocol message for both: a round trip less per transaction.
      await reachingDatabase(() => client.query(options.firstStatement === undefined ? 'BEGIN' : `BEGIN; ${options.firstStatement}`));
      const tx: SqlExecutor = {
        query: async <Row extends object>(text: string, params?: unknown[]) => {
          const result = await inTurn(() => reachingDatabase(() => client.query(text, params as unknown[])));
          return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
        },
      };
      const value = await work(tx);
      await inTurn(() => reachingDatabase(() => client.query('COMMIT')));
      client.release();
      return value;
    } catch (error) {
      // A clean rollback leaves the connection reusable (conflicts are routine here);
      // one whose rollback failed is in an unknown state and is thrown away.
      const rolledBack = await inTurn(() => client.query('ROLLBACK')).then(
        () => true,
        () => false,
      );
      client.release(!rolledBack);
      throw error;
    }
  }

  async exec(script: string): Promise<void> {
    await reachingDatabase(() => this.pool.query(script));
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    let client: Client | null = null;
    let stopped = false;
    const connect = async (): Promise<void> => {
      const next = new Client({ connectionString: this.options.connectionString });
      next.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      next.on('error', (error) => {
        this.options.onListenerError?.(error);
        void next.end().catch(() => undefined);
        if (!stopped) setTimeout(() => void reconnect(), 500);
      });
      await next.connect();
      await next.query(`LISTEN ${quoteIdent(channel)}`);
      client = next;
      // Anything may have been missed while reconnecting: let the listener catch up.
      onNotify('');
    };
    const reconnect = async (): Promise<void> => {
      if (stopped) return;
      try {
        await connect();
      } catch (error) {
        this.options.onListenerError?.(error);
        if (!stopped) setTimeout(() => void reconnect(), 1000);
      }
    };
    await connect();
    const stop = async (): Promise<void> => {
      stopped = true;
      await client?.end().catch(() => undefined);
    };
    this.listeners.push(stop);
    return stop;
  }

  async close(): Promise<void> {
    await Promise.all(this.listeners.map((stop) => stop()));
    this.listeners = [];
    await this.pool.end();
  }
}

/** How long a request waits for a connection (a new one, or a free one of the pool) before it is refused. */
const CONNECT_TIMEOUT_MS = 10_000;

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
