import { silentLogger } from '../../../src/application/ports/logger';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { SqlSharedBuckets } from '../../../src/infrastructure/limits/sqlSharedBuckets';
import { PgDatabase } from '../../../src/infrastructure/sql/pgDatabase';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, type TestDatabase } from '../../support/databases';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('token buckets shared through PostgreSQL', () => {
  let database: TestDatabase;
  /** Two pools: two processes' worth of connections on one database. */
  let first: SqlDatabase;
  let second: SqlDatabase;
  let a: SqlSharedBuckets;
  let b: SqlSharedBuckets;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    first = new PgDatabase({ connectionString: database.url as string, maxConnections: 10 });
    second = new PgDatabase({ connectionString: database.url as string, maxConnections: 10 });
    // Both processes migrate at once, as two servers starting together do.
    await Promise.all([migrateDatabase(first), migrateDatabase(second)]);
    a = new SqlSharedBuckets(first, silentLogger);
    b = new SqlSharedBuckets(second, silentLogger);
  });
  afterAll(async () => {
    await first.close();
    await second.close();
    await database.drop();
  });

  it('hands out exactly the burst to concurrent takes from two processes', async () => {
    // 1 a second with a burst of 10: within the few milliseconds this takes, at most one token refills.
    const takes = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).take('send:u1', 1, 10)));
    const taken = takes.filter(Boolean).length;
    expect(taken).toBeGreaterThanOrEqual(10);
    expect(taken).toBeLessThanOrEqual(11);
  });

  it('refills at the rate, up to the burst, and keeps each key apart', async () => {
    const before = [];
    for (let i = 0; i < 5; i += 1) before.push(await (i % 2 === 0 ? a : b).take('send:u2', 2, 4));
    expect(before).toEqual([true, true, true, true, false]);
    expect(await b.take('send:u3', 2, 4)).toBe(true);
    await sleep(600); // 2 a second: one token back (and a fraction, with room for a slow machine)
    expect([await a.take('send:u2', 2, 4), await b.take('send:u2', 2, 4)]).toEqual([true, false]);
  });

  it('forgets buckets idle for a minute, which are full anyway', async () => {
    await a.take('send:idle', 1, 2);
    await first.query(`UPDATE chat_rate_buckets SET refilled_at = now() - interval '2 minutes' WHERE bucket = 'send:idle'`);
    await a.prune();
    const rows = await first.query<{ bucket: string }>(`SELECT bucket FROM chat_rate_buckets WHERE bucket = 'send:idle'`);
    expect(rows.rows).toEqual([]);
  });
});
