import { randomBytes } from 'node:crypto';
import type { EventStore, RecordedEvent } from '../../application/ports/eventStore';
import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';
import { applyBatchToReadModels, chatProjection } from './chatProjection';
import { readModelKeys, readModelTables } from './schema';

export interface RowDifference {
  table: string;
  /** The row's primary key. */
  key: Record<string, unknown>;
  /** The live row; null when only the rebuilt tables have it. */
  live: Record<string, unknown> | null;
  /** The rebuilt row; null when only the live tables have it. */
  rebuilt: Record<string, unknown> | null;
  /** The columns whose values differ (every column when one side is missing). */
  columns: string[];
}

export interface RebuildCheckResult {
  equal: boolean;
  /** Events replayed into the scratch tables. */
  events: number;
  /** The live projection's checkpoint both sides were compared at. */
  checkpoint: string | null;
  differences: RowDifference[];
  /** More differences than were listed. */
  truncated: boolean;
}

export interface RebuildCheckOptions {
  db: SqlDatabase;
  eventStore: EventStore;
  /** The live projection whose checkpoint the replay stops at. */
  projection?: string;
  /** At most this many differences a table are listed. */
  maxDifferences?: number;
  onProgress?(events: number): void;
}

const PAGE = 1000;

/**
 * Replays every event into fresh read-model tables in a scratch schema beside the live
 * ones, up to the live projection's checkpoint, and compares the two row by row. The
 * live tables are only read; the scratch schema is dropped afterwards, whatever happens.
 * When the live projection moves on during the check (a server is running), the replay
 * catches up and compares again, in a snapshot where the live checkpoint is the replay's.
 */
export async function rebuildCheck(options: RebuildCheckOptions): Promise<RebuildCheckResult> {
  const { db } = options;
  const projection = options.projection ?? chatProjection.name;
  const liveSchema = quoteIdent(((await db.query<{ schema: string }>(`SELECT current_schema() AS schema`)).rows[0] as { schema: string }).schema);
  const scratch = `rebuild_check_${randomBytes(6).toString('hex')}`;
  await db.query(`CREATE SCHEMA ${scratch}`);
  try {
    // Copies of the live tables' shape, whatever migrations made it (columns, defaults, keys, indexes).
    for (const table of ['rm_projection_checkpoints', ...readModelTables]) {
      await db.query(`CREATE TABLE ${scratch}.${table} (LIKE ${liveSchema}.${table} INCLUDING ALL)`);
    }
    let replayedTo: string | null = null;
    let events = 0;
    for (let attempt = 1; attempt <= 10; attempt += 1) {
      const target = await liveCheckpoint(db, liveSchema, projection);
      events += await replay(options, scratch, replayedTo, target, events);
      replayedTo = target;
      const compared = await db.transaction(async (tx) => {
        await tx.query(`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
        if ((await liveCheckpoint(tx, liveSchema, projection)) !== target) return null;
        return compareTables(tx, liveSchema, scratch, options.maxDifferences ?? 100);
      });
      if (compared !== null) return { equal: compared.differences.length === 0, events, checkpoint: target, ...compared };
    }
    throw new Error('the live read models kept moving during the check; run it again when the service is quieter');
  } finally {
    await db.query(`DROP SCHEMA IF EXISTS ${scratch} CASCADE`);
  }
}

async function liveCheckpoint(db: SqlExecutor, liveSchema: string, projection: string): Promise<string | null> {
  const result = await db.query<{ checkpoint: string }>(
    `SELECT checkpoint FROM ${liveSchema}.rm_projection_checkpoints WHERE projection = $1`,
    [projection],
  );
  return result.rows[0]?.checkpoint ?? null;
}

/** Applies the events after `from` up to and including `to`, a page a transaction. */
async function replay(options: RebuildCheckOptions, scratch: string, from: string | null, to: string | null, done: number): Promise<number> {
  if (to === null || (from !== null && from >= to)) return 0;
  let after = from;
  let applied = 0;
  for (;;) {
    const page = (await options.eventStore.readAll(after, PAGE)).filter((event: RecordedEvent) => event.checkpoint <= to);
    if (page.length === 0) return applied;
    await options.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL search_path TO ${scratch}`);
      await applyBatchToReadModels(tx, page);
    });
    applied += page.length;
    options.onProgress?.(done + applied);
    after = (page.at(-1) as RecordedEvent).checkpoint;
    if (after >= to) return applied;
  }
}

async function compareTables(
  tx: SqlExecutor,
  liveSchema: string,
  scratch: string,
  maxDifferences: number,
): Promise<{ differences: RowDifference[]; truncated: boolean }> {
  const differences: RowDifference[] = [];
  let truncated = false;
  for (const table of readModelTables) {
    const columns = (
      await tx.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [scratch, table],
      )
    ).rows.map((row) => row.column_name);
    const list = columns.map(quoteIdent).join(', ');
    const live = `${liveSchema}.${table}`;
    const rebuilt = `${scratch}.${table}`;
    const rows = await tx.query<{ side: 'live' | 'rebuilt'; row: Record<string, unknown> }>(
      `(SELECT 'live' AS side, to_jsonb(d) AS row FROM (SELECT ${list} FROM ${live} EXCEPT ALL SELECT ${list} FROM ${rebuilt}) d LIMIT $1)
       UNION ALL
       (SELECT 'rebuilt' AS side, to_jsonb(d) AS row FROM (SELECT ${list} FROM ${rebuilt} EXCEPT ALL SELECT ${list} FROM ${live}) d LIMIT $1)`,
      [maxDifferences + 1],
    );
    const keyColumns = readModelKeys[table];
    const byKey = new Map<string, RowDifference>();
    for (const { side, row } of rows.rows) {
      const key = Object.fromEntries(keyColumns.map((column) => [column, row[column]]));
      const id = JSON.stringify(key);
      const difference = byKey.get(id) ?? { table, key, live: null, rebuilt: null, columns: [] };
      difference[side] = row;
      byKey.set(id, difference);
    }
    let listed = 0;
    for (const difference of byKey.values()) {
      if (listed === maxDifferences) {
        truncated = true;
        break;
      }
      difference.columns =
        difference.live === null || difference.rebuilt === null
          ? columns
          : columns.filter((c) => JSON.stringify(difference.live?.[c]) !== JSON.stringify(difference.rebuilt?.[c]));
      differences.push(difference);
      listed += 1;
    }
  }
  return { differences, truncated };
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
