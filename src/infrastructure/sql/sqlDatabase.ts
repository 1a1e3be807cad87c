/**
 * The little of SQL the adapters need, over either a `pg` pool (PostgreSQL server)
 * or an embedded PGlite. Both speak the same PostgreSQL dialect, so the event store
 * and the read models are written once. Select big numbers as `::text`: the drivers
 * parse int8 differently.
 */
export interface SqlExecutor {
  query<Row extends object = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number }>;
}

export interface SqlDatabase extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs `work` in one transaction on one connection; commits if it resolves, rolls back
   * if it throws. Statements `work` makes without awaiting the one before (under
   * Promise.all) run in the order made: independent statements may be sent at once and
   * awaited together, which on PGlite sends them to its thread in one message.
   * `firstStatement` (no parameters) runs right after BEGIN, sent with it in
   * one round trip where the driver allows.
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options?: { firstStatement?: string }): Promise<T>;
  /** Runs several statements separated by `;` (no parameters): for migrations. */
  exec(script: string): Promise<void>;
  /** LISTEN on a channel; the returned function stops listening. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
