import { silentLogger } from '../../../src/application/ports/logger';
import { SqlUserProfiles } from '../../../src/infrastructure/identity/sqlUserProfiles';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import type { SqlDatabase, SqlExecutor } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../support/databases';

/** The real database, with a count of the statements sent to it. */
function counting(db: SqlDatabase): SqlExecutor & { statements: number } {
  const counted = {
    statements: 0,
    query: ((text: string, params?: unknown[]) => {
      counted.statements += 1;
      return db.query(text, params);
    }) as SqlExecutor['query'],
  };
  return counted;
}

describe.each(databaseKinds)('user profiles kept from tokens on %s', (kind) => {
  let database: TestDatabase;
  let db: SqlDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    db = await database.connect();
    await migrateDatabase(db);
  });
  afterAll(async () => {
    await database.drop();
  });

  const stored = async (userId: string) =>
    (await db.query<{ name: string | null; picture: string | null }>(`SELECT name, picture FROM user_profiles WHERE user_id = $1`, [userId])).rows[0];

  it('writes once per change, not once per request', async () => {
    const sql = counting(db);
    const profiles = new SqlUserProfiles(sql, silentLogger);
    for (let i = 0; i < 50; i += 1) profiles.noteSeen('ana', { name: 'Ana', picture: null });
    await profiles.settled();
    expect(sql.statements).toBe(1);
    expect(await stored('ana')).toEqual({ name: 'Ana', picture: null });

    profiles.noteSeen('ana', { name: 'Ana', picture: 'https://img.example.com/ana.png' });
    profiles.noteSeen('ana', { name: 'Ana', picture: 'https://img.example.com/ana.png' });
    await profiles.settled();
    expect(sql.statements).toBe(2);
    expect(await stored('ana')).toEqual({ name: 'Ana', picture: 'https://img.example.com/ana.png' });
  });

  it('forgets the least recent users past its bound, and a forgotten one costs one more write, not a wrong name', async () => {
    const sql = counting(db);
    const profiles = new SqlUserProfiles(sql, silentLogger, 2);
    profiles.noteSeen('u1', { name: 'One', picture: null });
    profiles.noteSeen('u2', { name: 'Two', picture: null });
    profiles.noteSeen('u3', { name: 'Three', picture: null });
    profiles.noteSeen('u3', { name: 'Three', picture: null });
    profiles.noteSeen('u1', { name: 'One', picture: null });
    await profiles.settled();
    expect(sql.statements).toBe(4);
    expect(await stored('u1')).toEqual({ name: 'One', picture: null });
  });

  it('a second process that saw an older name does not keep writing it back: each writes only what its own requests bring', async () => {
    const first = new SqlUserProfiles(db, silentLogger);
    const second = new SqlUserProfiles(db, silentLogger);
    first.noteSeen('bo', { name: 'Bo', picture: null });
    await first.settled();
    second.noteSeen('bo', { name: 'Bo Kim', picture: null });
    await second.settled();
    first.noteSeen('bo', { name: 'Bo', picture: null }); // the same as first last wrote: nothing sent
    await first.settled();
    expect(await stored('bo')).toEqual({ name: 'Bo Kim', picture: null });
  });
});
