import { readFileSync } from 'node:fs';
import path from 'node:path';
import { migrateDatabase, migrations } from '../../../src/infrastructure/migrations';
import { checkOrder, runMigrations, type Migration } from '../../../src/infrastructure/migrations/runner';
import { PgDatabase } from '../../../src/infrastructure/sql/pgDatabase';
import type { SqlExecutor } from '../../../src/infrastructure/sql/sqlDatabase';
import { as } from '../../support/http';
import { createTestDatabase, databaseKinds, withConnection, type TestDatabase } from '../../support/databases';
import { startTestServer } from '../../support/server';
import { tokenFor } from '../../support/tokens';

const everyVersion = migrations.map((m) => m.version);

async function recorded(db: SqlExecutor): Promise<number[]> {
  const result = await db.query<{ version: number }>(`SELECT version FROM schema_migrations ORDER BY version`);
  return result.rows.map((row) => Number(row.version));
}

async function tableExists(db: SqlExecutor, table: string): Promise<boolean> {
  const result = await db.query<{ found: string | null }>(`SELECT to_regclass($1)::text AS found`, [table]);
  return result.rows[0]?.found != null;
}

describe('the list of migrations', () => {
  it('is numbered 1, 2, 3… in order, and a list that is not stops the runner before it touches the database', () => {
    expect(() => checkOrder(migrations)).not.toThrow();
    const step = (version: number): Migration => ({ version, name: `step ${version}`, up: async () => undefined });
    expect(() => checkOrder([step(1), step(3)])).toThrow(/number 3 at place 2/);
    expect(() => checkOrder([step(1), step(1)])).toThrow(/number 1 at place 2/);
  });
});

describe.each(databaseKinds)('schema migrations (%s)', (kind) => {
  let database: TestDatabase;
  beforeEach(async () => {
    database = await createTestDatabase(kind);
  });
  afterEach(async () => {
    await database.drop();
  });

  it('applies every migration to an empty database once, records each, and finds nothing to do the second time', async () => {
    await withConnection(database, async (db) => {
      const first = await migrateDatabase(db);
      expect(first).toEqual({ applied: everyVersion, version: everyVersion.length, unknown: [] });
      expect(await recorded(db)).toEqual(everyVersion);
      for (const table of ['events', 'rm_rooms', 'notify_outbox', 'stream_snapshots', 'chat_rate_buckets']) expect(await tableExists(db, table)).toBe(true);
      const again = await migrateDatabase(db);
      expect(again).toEqual({ applied: [], version: everyVersion.length, unknown: [] });
    });
  });

  it('applies each migration once when two processes start together', async () => {
    // On a server: two pools, as two processes have. PGlite is one process: two callers in it.
    const opened = kind === 'postgres' ? [new PgDatabase({ connectionString: database.url as string }), new PgDatabase({ connectionString: database.url as string })] : null;
    try {
      await withConnection(database, async (only) => {
        const [a, b] = opened ?? [only, only];
        const reports = await Promise.all([migrateDatabase(a!), migrateDatabase(b!)]);
        expect([...reports[0].applied, ...reports[1].applied].sort((x, y) => x - y)).toEqual(everyVersion);
        expect(await recorded(only)).toEqual(everyVersion);
      });
    } finally {
      for (const db of opened ?? []) await db.close();
    }
  });

  it('applies a failing migration not at all: nothing of it stays, it is not recorded, and the next start tries it again', async () => {
    const createsThenFails: Migration = {
      version: everyVersion.length + 1,
      name: 'creates a table, then fails',
      async up(tx) {
        await tx.query(`CREATE TABLE half_done (id integer)`);
        await tx.query(`SELECT no_such_function()`);
      },
    };
    await withConnection(database, async (db) => {
      await expect(runMigrations(db, [...migrations, createsThenFails])).rejects.toThrow(/no_such_function/);
      expect(await recorded(db)).toEqual(everyVersion);
      expect(await tableExists(db, 'half_done')).toBe(false);
      const fixed: Migration = { ...createsThenFails, name: 'creates a table', up: (tx) => tx.query(`CREATE TABLE half_done (id integer)`).then(() => undefined) };
      expect((await runMigrations(db, [...migrations, fixed])).applied).toEqual([fixed.version]);
      // Code older than the database (a newer release migrated it) is told so, and changes nothing.
      expect(await migrateDatabase(db)).toEqual({ applied: [], version: fixed.version, unknown: [fixed.version] });
    });
  });

  it('adopts a database made by the release before versioned migrations: its data kept, served by this release', async () => {
    const dump = readFileSync(path.join(__dirname, '../../fixtures/database-before-migrations.sql'), 'utf8');
    await withConnection(database, async (db) => {
      await db.exec(dump);
      expect(await tableExists(db, 'schema_migrations')).toBe(false);
    });
    const server = await startTestServer(kind, { database });
    try {
      const minho = as(server.url, tokenFor('minho'));
      const rooms = await minho.get('/api/rooms');
      expect(rooms.status).toBe(200);
      expect(rooms.body.rooms).toHaveLength(1);
      const room = rooms.body.rooms[0];
      expect(room).toMatchObject({ postId: 'demo-bike', lenderId: 'lena', borrowerId: 'minho', unreadCount: 0, lastMessage: { seq: 2, body: 'Yes, from 9 am.' } });
      const history = await minho.get(`/api/rooms/${room.roomId}/messages`);
      expect(history.body.messages.map((m: { body: string }) => m.body)).toEqual(['Is the bike free on Saturday?', 'Yes, from 9 am.']);
      // The room's stream goes on where it was: the next message is seq 3.
      const sent = await minho.post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: '0b6c1f5e-8a55-4c1e-9d0e-6a3f1d2c4b5a', body: 'Great, see you then.' });
      expect(sent.status).toBe(201);
      expect(sent.body.message.seq).toBe(3);
      const auditor = as(server.url, tokenFor('audit-team', { roles: ['auditor'] }));
      const verified = await auditor.get('/api/audit/verify');
      expect(verified.status).toBe(200);
      expect(verified.body).toMatchObject({ verified: true, failures: [] });
    } finally {
      await server.close();
    }
    await withConnection(database, async (db) => {
      expect(await recorded(db)).toEqual(everyVersion);
      const events = await db.query<{ count: string }>(`SELECT count(*)::text AS count FROM events`);
      expect(Number(events.rows[0]?.count)).toBeGreaterThan(8);
    });
  });
});
