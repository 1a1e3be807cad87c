import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';

/**
 * One change to the database's schema. Its `version` is its place in the list
 * (1, 2, 3…); once applied it is recorded in `schema_migrations` and never runs again,
 * so a migration that has been released is never edited: a further change is a new one.
 */
export interface Migration {
  readonly version: number;
  /** A few words on what it does, recorded beside the version. */
  readonly name: string;
  /** Runs in the transaction that records it: all of it is applied, or none. */
  up(tx: SqlExecutor): Promise<void>;
}

export interface MigrationReport {
  /** The versions this call applied, in order (empty when the database was up to date). */
  applied: number[];
  /** The newest version recorded in the database. */
  version: number;
  /**
   * Versions recorded in the database that this code does not know: a newer release has
   * migrated it (this process is older than the database's schema).
   */
  unknown: number[];
}

/**
 * Every process migrating this database takes this lock (a transaction-level advisory
 * lock, so a crashed process never leaves it held): two processes starting together
 * apply each migration once, one after the other. PGlite is one process, and takes it too.
 */
const lock = `SELECT pg_advisory_xact_lock(hashtextextended('chat:migrate', 0))`;

/**
 * Applies the migrations not yet recorded, in order, each in a transaction of its own
 * under the lock, checking again under the lock whether another process applied it
 * meanwhile. Why a runner of our own and not node-pg-migrate: see docs/decisions.md.
 */
export async function runMigrations(db: SqlDatabase, migrations: readonly Migration[]): Promise<MigrationReport> {
  checkOrder(migrations);
  await db.transaction(async (tx) => {
    await tx.query(lock);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
  });
  const recorded = await recordedVersions(db);
  const applied: number[] = [];
  for (const migration of migrations) {
    if (recorded.has(migration.version)) continue;
    const ran = await db.transaction(async (tx) => {
      await tx.query(lock);
      if ((await recordedVersions(tx)).has(migration.version)) return false;
      await migration.up(tx);
      await tx.query(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  const now = await recordedVersions(db);
  const known = new Set(migrations.map((m) => m.version));
  return { applied, version: Math.max(0, ...now), unknown: [...now].filter((v) => !known.has(v)).sort((a, b) => a - b) };
}

async function recordedVersions(db: SqlExecutor): Promise<Set<number>> {
  const result = await db.query<{ version: number }>(`SELECT version FROM schema_migrations`);
  return new Set(result.rows.map((row) => Number(row.version)));
}

/** The list is the order: versions 1, 2, 3… with no gap or repeat (a merge that renumbered badly stops here). */
export function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`migration "${migration.name}" is number ${migration.version} at place ${index + 1} of the list: number them 1, 2, 3… in order`);
    }
  });
}
