import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { PgDatabase } from '../../../src/infrastructure/sql/pgDatabase';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../support/databases';
import { aStreamName, anEvent, delay, eventStoreContract, follow } from './eventStoreContract';

/** globalSetup found a PostgreSQL server; without one the 'postgres' kind runs on PGlite too. */
const onServer = process.env.TEST_DATABASE_URL !== undefined;

for (const kind of databaseKinds) {
  let testDb: TestDatabase | null = null;
  const label = kind === 'postgres' && !onServer ? 'postgres (on PGlite: no server found)' : kind;

  eventStoreContract(
    `PostgresEventStore on ${label}`,
    async () => {
      testDb = await createTestDatabase(kind);
      const db = await testDb.connect();
      await PostgresEventStore.migrate(db);
      return { store: new PostgresEventStore(db, { pollIntervalMs: 50 }), close: () => (testDb as TestDatabase).drop() };
    },
    {
      extraCases: (fixture) => {
        // PGlite runs one transaction at a time, so transactions cannot overlap there.
        const serverOnly = kind === 'postgres' && onServer ? it : it.skip;

        serverOnly('delivers every event once while 20 writers commit slowly and in the reverse of the order they took positions (PostgreSQL server only)', async () => {
          const url = (testDb as TestDatabase).url as string;
          const pool = new PgDatabase({ connectionString: url, maxConnections: 25 });
          const anchor = await fixture().store.appendToStream(aStreamName('slow-anchor'), [anEvent()], 'no_stream');
          const streams = Array.from({ length: 20 }, (_, i) => aStreamName(`slow-${i}`));
          const follower = follow(fixture().store, { from: 'checkpoint', checkpoint: anchor.checkpoint }, (e) => streams.includes(e.streamId));
          try {
            // Writer i inserts its event (taking position p_i, p_0 < p_1 < ...) through the
            // store's own append, then holds its transaction open until released.
            const releases: Array<() => void> = [];
            const appends: Array<Promise<{ globalPosition: bigint }>> = [];
            const events = streams.map(() => anEvent());
            for (const [i, stream] of streams.entries()) {
              let inserted!: () => void;
              const hasInserted = new Promise<void>((resolve) => (inserted = resolve));
              const released = new Promise<void>((resolve) => releases.push(resolve));
              const writer = new PostgresEventStore(commitWhenReleased(pool, inserted, released));
              appends.push(writer.appendToStream(stream, [events[i]!], 'no_stream'));
              await hasInserted;
            }
            // Commit the last-numbered first, while the subscriber keeps polling.
            for (let i = releases.length - 1; i >= 0; i -= 1) {
              releases[i]!();
              await delay(20);
            }
            const results = await Promise.all(appends);
            const positions = results.map((r) => r.globalPosition);
            expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

            await follower.until(() => follower.mine.length >= 20, 'all 20 events');
            await delay(300);
            expect(follower.mine.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
            expect(follower.errors).toEqual([]);
          } finally {
            await follower.stop();
            await pool.close();
          }
        });
      },
    },
  );
}

/** The same database, but each transaction reports its work done and commits only when released. */
function commitWhenReleased(db: SqlDatabase, workDone: () => void, released: Promise<void>): SqlDatabase {
  return {
    kind: db.kind,
    query: (text, params) => db.query(text, params),
    transaction: (work) =>
      db.transaction(async (tx) => {
        const value = await work(tx);
        workDone();
        await released;
        return value;
      }),
    exec: (script) => db.exec(script),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close: async () => undefined,
  };
}
