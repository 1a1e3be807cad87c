import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { APPEND_ONLY_CATALOG_QUERY } from '../../../src/infrastructure/eventStore/appendOnly';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { PgDatabase } from '../../../src/infrastructure/sql/pgDatabase';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { runCli } from '../../support/auditCli';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../support/databases';
import { aStreamName, anEvent } from './eventStoreContract';

/** globalSetup found a PostgreSQL server; without one the 'postgres' kind runs on PGlite too. */
const serverUrl = process.env.TEST_DATABASE_URL;

/** The catalog query docs/audit.md gives auditors, read from the page itself so the two cannot drift. */
function documentedCatalogQuery(): string {
  const doc = readFileSync(path.join(__dirname, '../../../docs/audit.md'), 'utf8');
  return (/## Append-only[\s\S]*?```sql\n([\s\S]*?)```/.exec(doc)?.[1] as string).trim().replace(/;$/, '');
}

/** Every stored column of every event, to show that a refused statement changed nothing. */
async function allEvents(db: SqlDatabase): Promise<unknown[]> {
  const rows = await db.query(`SELECT global_position::text, stream_id, stream_revision::text, event_id::text, event_type, data::text, metadata::text FROM events ORDER BY global_position`);
  return rows.rows;
}

const edits = [
  ['UPDATE', `UPDATE events SET data = '{"body":"forged"}'::jsonb`],
  ['DELETE', `DELETE FROM events`],
  ['TRUNCATE', `TRUNCATE events`],
] as const;

describe.each(databaseKinds)('the events table is append-only, on %s', (kind) => {
  let tdb: TestDatabase;
  let db: SqlDatabase;
  const stream = aStreamName('append-only');

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    db = await tdb.connect();
    await migrateDatabase(db);
    await new PostgresEventStore(db).appendToStream(stream, [anEvent(), anEvent()], 'no_stream');
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it.each(edits)('refuses %s by the table\'s owner and changes nothing, while appends go on', async (op, statement) => {
    const before = await allEvents(db);
    expect(before.length).toBeGreaterThanOrEqual(2);
    await expect(db.query(statement)).rejects.toThrow(`events is append-only: ${op} refused`);
    // Also when the statement matches no row: the whole statement is refused.
    if (op !== 'TRUNCATE') await expect(db.query(`${statement} WHERE false`)).rejects.toThrow(`events is append-only: ${op} refused`);
    expect(await allEvents(db)).toEqual(before);
    const appended = await new PostgresEventStore(db).appendToStream(aStreamName('after-refusal'), [anEvent()], 'no_stream');
    expect(appended.nextExpectedRevision).toBe(0n);
    await expect(db.query(`DELETE FROM events WHERE stream_id LIKE 'contract_after-refusal-%'`)).rejects.toThrow('append-only');
  });

  it('refuses them also in a session that skips ordinary triggers (session_replication_role = replica)', async () => {
    const before = await allEvents(db);
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`SET LOCAL session_replication_role = replica`);
        await tx.query(`DELETE FROM events`);
      }),
    ).rejects.toThrow('events is append-only: DELETE refused');
    expect(await allEvents(db)).toEqual(before);
  });

  it('is shown present and enabled always by the catalog query in docs/audit.md and by `audit append-only`', async () => {
    const documented = documentedCatalogQuery();
    expect(documented).toBe(APPEND_ONLY_CATALOG_QUERY);
    expect((await db.query(documented)).rows).toEqual([
      {
        name: 'events_append_only',
        enabled: 'A',
        definition: 'CREATE TRIGGER events_append_only BEFORE DELETE OR UPDATE OR TRUNCATE ON public.events FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change()',
      },
    ]);
    await db.close();
    try {
      const checked = await runCli(tdb, ['append-only']);
      expect(checked.stdout).toContain('trigger events_append_only: enabled always: CREATE TRIGGER');
      expect(checked.stdout).toContain('UPDATE: refused; DELETE: refused');
      expect(checked.stdout).toMatch(/^OK: the events table is append-only$/m);
      expect(checked.code).toBe(0);
    } finally {
      db = await tdb.connect();
    }
  });

  it('can be switched off by its owner, which the check shows until someone switches it on again (a restart does not)', async () => {
    await db.query(`ALTER TABLE events DISABLE TRIGGER events_append_only`);
    expect((await db.query<{ enabled: string }>(APPEND_ONLY_CATALOG_QUERY)).rows.map((r) => r.enabled)).toEqual(['D']);
    await db.close();
    try {
      const off = await runCli(tdb, ['append-only']);
      expect(off.stdout).toContain('trigger events_append_only: disabled');
      expect(off.stdout).toContain('UPDATE: allowed; DELETE: allowed');
      expect(off.stdout).toMatch(/^FAILED: the events table is not append-only$/m);
      expect(off.code).toBe(1);
    } finally {
      db = await tdb.connect();
    }
    // What a server does at start-up: the migration ran once, so the trigger stays off.
    await migrateDatabase(db);
    expect((await db.query<{ enabled: string }>(APPEND_ONLY_CATALOG_QUERY)).rows.map((r) => r.enabled)).toEqual(['D']);
    await db.query(`ALTER TABLE events ENABLE ALWAYS TRIGGER events_append_only`);
    await expect(db.query(`DELETE FROM events`)).rejects.toThrow('events is append-only: DELETE refused');
  });

  const onServer = kind === 'postgres' && serverUrl !== undefined ? it : it.skip;
  onServer('refuses them to an owner that is not a superuser, as a service role would be', async () => {
    const role = `chat_owner_${Math.random().toString(36).slice(2, 10)}`;
    await db.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER`);
    const ownerDb = (() => {
      const url = new URL(tdb.url as string);
      url.username = role;
      url.password = '';
      return new PgDatabase({ connectionString: url.toString(), maxConnections: 1 });
    })();
    try {
      await db.query(`ALTER TABLE events OWNER TO ${role}`);
      const before = await allEvents(db);
      for (const [op, statement] of edits) await expect(ownerDb.query(statement)).rejects.toThrow(`events is append-only: ${op} refused`);
      expect(await allEvents(db)).toEqual(before);
      expect((await new PostgresEventStore(ownerDb).appendToStream(aStreamName('by-owner'), [anEvent()], 'no_stream')).nextExpectedRevision).toBe(0n);
    } finally {
      await ownerDb.close();
      await db.query(`ALTER TABLE events OWNER TO CURRENT_USER`);
      const admin = new Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`DROP ROLE ${role}`).finally(() => admin.end());
    }
  });
});
