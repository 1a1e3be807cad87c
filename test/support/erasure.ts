import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SqlDatabase } from '../../src/infrastructure/sql/sqlDatabase';
import { withConnection, type TestDatabase } from './databases';

const run = promisify(execFile);

/**
 * Everything the database holds, as text: `pg_dump` of a PostgreSQL database, or every
 * row of every table of a PGlite one (with PGlite, only while no server has it open).
 */
export async function dumpDatabase(database: TestDatabase): Promise<string> {
  if (database.url !== null) {
    const { stdout } = await run('pg_dump', ['--no-owner', '--no-privileges', database.url], { maxBuffer: 512 * 1024 * 1024 });
    return stdout;
  }
  return withConnection(database, async (db) => {
    const tables = await db.query<{ name: string }>(
      `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    const parts: string[] = [];
    for (const { name } of tables.rows) {
      const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`);
      parts.push(`-- ${name}`, ...rows.rows.map((r) => r.row));
    }
    return parts.join('\n');
  });
}

/** Every event row exactly as stored (data and metadata as the database prints them), in order. */
export async function eventRows(db: SqlDatabase): Promise<string[]> {
  const result = await db.query<{ row: string }>(
    `SELECT concat_ws('|', global_position, transaction_id, stream_id, stream_revision, event_id, event_type, data::text, metadata::text, recorded_at) AS row
       FROM events ORDER BY global_position`,
  );
  return result.rows.map((r) => r.row);
}
