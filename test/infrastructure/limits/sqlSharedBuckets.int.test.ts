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
    const takes = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).takeUpTo('send:u1', 1, 10, 1)));
    const taken = takes.reduce((sum, n) => sum + n, 0);
    expect(taken).toBeGreaterThanOrEqual(10);
    expect(taken).toBeLessThanOrEqual(11);
  });

  it('refills at the rate, up to the burst, and keeps each key apart', async () => {
    const before = [];
    for (let i = 0; i < 5; i += 1) before.push(await (i % 2 === 0 ? a : b).takeUpTo('send:u2', 2, 4, 1));
    expect(before).toEqual([1, 1, 1, 1, 0]);
    expect(await b.takeUpTo('send:u3', 2, 4, 1)).toBe(1);
    await sleep(600); // 2 a second: one token back (and a fraction, with room for a slow machine)
    expect([await a.takeUpTo('send:u2', 2, 4, 1), await b.takeUpTo('send:u2', 2, 4, 1)]).toEqual([1, 0]);
  });

  it('hands out as many whole tokens as the bucket holds, up to what is asked, and takes back what was not spent', async () => {
    // 1 a second, burst 10: a lease of 4, another of 4, then only the 2 left.
    expect(await a.takeUpTo('send:lease', 1, 10, 4)).toBe(4);
    expect(await b.takeUpTo('send:lease', 1, 10, 4)).toBe(4);
    expect(await a.takeUpTo('send:lease', 1, 10, 4)).toBe(2);
    expect(await b.takeUpTo('send:lease', 1, 10, 4)).toBe(0);
    await a.giveBack([{ key: 'send:lease', tokens: 3, burst: 10 }]);
    expect(await b.takeUpTo('send:lease', 1, 10, 5)).toBe(3);
    // Given back past the burst, a bucket holds the burst.
    await a.giveBack([{ key: 'send:lease', tokens: 50, burst: 10 }]);
    expect(await b.takeUpTo('send:lease', 1, 10, 50)).toBe(10);
  });

  it('forgets buckets idle for a minute, which are full anyway', async () => {
    await a.takeUpTo('send:idle', 1, 2, 1);
    await first.query(`UPDATE chat_rate_buckets SET refilled_at = now() - interval '2 minutes' WHERE bucket = 'send:idle'`);
    await a.prune();
    const rows = await first.query<{ bucket: string }>(`SELECT bucket FROM chat_rate_buckets WHERE bucket = 'send:idle'`);
    expect(rows.rows).toEqual([]);
  });
});
