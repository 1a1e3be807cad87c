import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { PgDatabase } from '../../src/infrastructure/sql/pgDatabase';
import { PgliteDatabase } from '../../src/infrastructure/sql/pgliteDatabase';
import type { SqlDatabase } from '../../src/infrastructure/sql/sqlDatabase';

export type DatabaseKind = 'postgres' | 'pglite';

/** Every integration suite runs once per kind. */
export const databaseKinds: DatabaseKind[] = ['postgres', 'pglite'];

/**
 * A fresh, empty database of its own for one suite: a new database on the PostgreSQL
 * server (see globalSetup.js for which server), or a new PGlite data directory.
 * Fresh databases instead of cleaning up, so suites never see each other's rows.
 */
export interface TestDatabase {
  kind: DatabaseKind;
  /** The DATABASE_URL a server process would use; null for PGlite (use dataDir). */
  url: string | null;
  /** For PGlite: the data directory a server process would use. */
  dataDir: string | null;
  connect(): Promise<SqlDatabase>;
  drop(): Promise<void>;
}

export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (kind === 'postgres' && serverUrl !== undefined) {
    const name = `chat_test_${randomUUID().replaceAll('-', '')}`;
    await withAdmin(serverUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const opened: SqlDatabase[] = [];
    return {
      kind,
      url: url.toString(),
      dataDir: null,
      connect: async () => {
        const db = new PgDatabase({ connectionString: url.toString() });
        opened.push(db);
        return db;
      },
      drop: async () => {
        await Promise.all(opened.map((db) => db.close().catch(() => undefined)));
        await withAdmin(serverUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
      },
    };
  }
  // PGlite: the embedded kind, and the fallback when no PostgreSQL server can be had.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chat-pglite-'));
  const opened: SqlDatabase[] = [];
  return {
    kind,
    url: null,
    dataDir,
    connect: async () => {
      const db = await PgliteDatabase.open(dataDir);
      opened.push(db);
      return db;
    },
    drop: async () => {
      await Promise.all(opened.map((db) => db.close().catch(() => undefined)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function withAdmin<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `work` on a connection of its own, closed afterwards. With PGlite, only while no server has the database open. */
export async function withConnection<T>(database: TestDatabase, work: (db: SqlDatabase) => Promise<T>): Promise<T> {
  const db = await database.connect();
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}
