import { UserBudgets } from '../../../src/application/limits/userBudgets';
import { silentLogger } from '../../../src/application/ports/logger';
import type { SharedBuckets, UnspentTokens } from '../../../src/application/ports/sharedBuckets';
import { SqlSharedBuckets } from '../../../src/infrastructure/limits/sqlSharedBuckets';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { PgDatabase } from '../../../src/infrastructure/sql/pgDatabase';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, type TestDatabase } from '../../support/databases';

/** The real shared buckets, counting the statements they cost. */
class CountedBuckets implements SharedBuckets {
  takes = 0;
  constructor(private readonly inner: SharedBuckets) {}
  takeUpTo(key: string, ratePerSecond: number, burst: number, want: number): Promise<number> {
    this.takes += 1;
    return this.inner.takeUpTo(key, ratePerSecond, burst, want);
  }
  giveBack(unspent: readonly UnspentTokens[]): Promise<void> {
    return this.inner.giveBack(unspent);
  }
}

const settings = (send: number) => ({ perSecond: { send, command: 2, read: 10, resume: 20, typing: 5 }, typingIntervalMs: 1000 });

describe('the send budget shared by processes, taken in leases (PostgreSQL)', () => {
  let database: TestDatabase;
  /** Two pools: two processes on one database. */
  let first: SqlDatabase;
  let second: SqlDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    first = new PgDatabase({ connectionString: database.url as string, maxConnections: 5 });
    second = new PgDatabase({ connectionString: database.url as string, maxConnections: 5 });
    await migrateDatabase(first);
  });
  afterAll(async () => {
    await first.close();
    await second.close();
    await database.drop();
  });

  const process = (db: SqlDatabase, send: number) => {
    const shared = new CountedBuckets(new SqlSharedBuckets(db, silentLogger));
    return { shared, budgets: new UserBudgets(settings(send), { shared, sharedKinds: ['send'], logger: silentLogger }) };
  };

  it('costs one statement per lease of half a second\'s sends, not one per send', async () => {
    const { shared, budgets } = process(first, 10);
    const taken = [];
    for (let i = 0; i < 20; i += 1) taken.push(await budgets.takeShared('send', 'paced'));
    expect(taken.every(Boolean)).toBe(true);
    // 10 a second: leases of 5, so the burst of 20 took four statements.
    expect(shared.takes).toBe(4);
  });

  it('shares one lease request among concurrent sends, so a concurrent burst still gets the whole burst', async () => {
    const { budgets } = process(first, 10);
    const taken = await Promise.all(Array.from({ length: 40 }, () => budgets.takeShared('send', 'burst')));
    const admitted = taken.filter(Boolean).length;
    expect(admitted).toBeGreaterThanOrEqual(20);
    // Only what refilled while this ran comes on top (10 a second).
    expect(admitted).toBeLessThanOrEqual(22);
  });

  it('never admits more across two processes than the one shared bucket holds', async () => {
    const a = process(first, 5);
    const b = process(second, 5);
    const taken = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).budgets.takeShared('send', 'spread')),
    );
    const admitted = taken.filter(Boolean).length;
    // Burst 10, plus at most one token refilled while this ran (5 a second).
    expect(admitted).toBeLessThanOrEqual(11);
    // Leases of 3: what the two processes may still hold unspent is at most 2 × 2.
    expect(admitted).toBeGreaterThanOrEqual(10 - 4);
  });

  it('gives back what a lease did not spend, so the user\'s other process can send it', async () => {
    const a = process(first, 5);
    const b = process(second, 5);
    // A spends one send of a lease of 3 and holds two.
    expect(await a.budgets.takeShared('send', 'moving')).toBe(true);
    // B drains the rest of the shared bucket.
    while (await b.budgets.takeShared('send', 'moving'));
    expect(await b.budgets.takeShared('send', 'moving')).toBe(false);
    await a.budgets.settleLeases(undefined, true);
    expect([await b.budgets.takeShared('send', 'moving'), await b.budgets.takeShared('send', 'moving')]).toEqual([true, true]);
  });
});
