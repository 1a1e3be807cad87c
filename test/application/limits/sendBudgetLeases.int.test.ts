import { UserBudgets } from '../../../src/application/limits/userBudgets';
import { silentLogger } from '../../../src/application/ports/logger';
import type { SharedBuckets, UnspentTokens } from '../../../src/application/ports/sharedBuckets';
import { SqlSharedBuckets } from '../../../src/infrastructure/limits/sqlSharedBuckets';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { PgDatabase } from '../../../src/infrastructure/sql/pgDatabase';
import { createTestDatabase, type TestDatabase } from '../../support/databases';

/** A process's pool on the real database, counting the statements sent through it. */
class CountedDatabase extends PgDatabase {
  statements = 0;
  override query<Row extends object>(text: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number }> {
    this.statements += 1;
    return super.query<Row>(text, params);
  }
}

/**
 * The real shared buckets with the database's answers held back until the test lets
 * them through: what a send does while its lease is on the way shows.
 */
class HeldBuckets implements SharedBuckets {
  private held: Array<() => void> = [];
  private answered: Array<Promise<unknown>> = [];
  constructor(private readonly inner: SharedBuckets) {}
  takeUpTo(key: string, ratePerSecond: number, burst: number, want: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.held.push(() => {
        const taken = this.inner.takeUpTo(key, ratePerSecond, burst, want);
        this.answered.push(taken.catch(() => undefined));
        taken.then(resolve, reject);
      });
    });
  }
  giveBack(unspent: readonly UnspentTokens[]): Promise<void> {
    return this.inner.giveBack(unspent);
  }
  /** Lets the takes asked so far reach the database, and waits for their answers. */
  async release(): Promise<void> {
    for (const go of this.held.splice(0)) go();
    await Promise.all(this.answered.splice(0));
    await macrotask();
  }
}

/** Everything that can happen without I/O has happened once a macrotask has run. */
const macrotask = () => new Promise((resolve) => setImmediate(resolve));

/** Whether `promise` settles without waiting for I/O (the database's answer). */
async function settlesWithoutIo(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await macrotask();
  return settled;
}

const settings = (send: number) => ({ perSecond: { send, command: 2, read: 10, resume: 20, typing: 5 }, typingIntervalMs: 1000 });

describe('the send budget shared by processes, taken in leases (PostgreSQL)', () => {
  let database: TestDatabase;
  /** Two pools: two processes on one database. */
  let first: CountedDatabase;
  let second: CountedDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    first = new CountedDatabase({ connectionString: database.url as string, maxConnections: 5 });
    second = new CountedDatabase({ connectionString: database.url as string, maxConnections: 5 });
    await migrateDatabase(first);
  });
  afterAll(async () => {
    await first.close();
    await second.close();
    await database.drop();
  });

  const process = (db: CountedDatabase, send: number) => {
    const shared = new SqlSharedBuckets(db, silentLogger);
    return { shared, budgets: new UserBudgets(settings(send), { shared, sharedKinds: ['send'], logger: silentLogger }) };
  };

  it('asks for the next lease before the user runs out: after the first send, none waits for the database, at about one statement per three sends', async () => {
    const held = new HeldBuckets(new SqlSharedBuckets(first, silentLogger));
    const budgets = new UserBudgets(settings(10), { shared: held, sharedKinds: ['send'], logger: silentLogger });
    const statementsBefore = first.statements;
    let waitedForDatabase = 0;
    for (let i = 0; i < 16; i += 1) {
      const taken = budgets.takeShared('send', 'steady');
      if (!(await settlesWithoutIo(taken))) {
        waitedForDatabase += 1;
        await held.release();
      }
      expect(await taken).toBe(true);
      // A paced sender: the lease asked ahead of need is answered before the next send.
      await held.release();
    }
    expect(waitedForDatabase).toBe(1);
    // 10 a second: a first lease of 5 (one spent at once, 4 held), then, each time one is
    // left, 3 more: leases at sends 1, 4, 7, 10, 13 and 16, 20 tokens in all.
    expect(first.statements - statementsBefore).toBe(6);
  });

  it('keeps the lease of a person writing every few seconds, so only the first send waits for the database', async () => {
    let now = 0;
    const held = new HeldBuckets(new SqlSharedBuckets(first, silentLogger));
    const budgets = new UserBudgets(settings(10), { shared: held, sharedKinds: ['send'], logger: silentLogger, now: () => now });
    let waitedForDatabase = 0;
    for (let i = 0; i < 8; i += 1) {
      const taken = budgets.takeShared('send', 'chatting');
      if (!(await settlesWithoutIo(taken))) {
        waitedForDatabase += 1;
        await held.release();
      }
      expect(await taken).toBe(true);
      await held.release();
      now += 4_000;
    }
    expect(waitedForDatabase).toBe(1);
  });

  it('takes the leases of many users asked at the same time in one statement', async () => {
    const { budgets } = process(first, 10);
    const statementsBefore = first.statements;
    const taken = await Promise.all(Array.from({ length: 50 }, (_, i) => budgets.takeShared('send', `crowd-${i}`)));
    expect(taken.every(Boolean)).toBe(true);
    expect(first.statements - statementsBefore).toBe(1);
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
    // A process holds at most 2 unspent at 5 a second: the two may still hold 2 × 2.
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
