import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { Client } from 'pg';
import { EventStoreBusyError, WrongExpectedRevisionError, type EventToAppend } from '../../../src/application/ports/eventStore';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { PgDatabase } from '../../../src/infrastructure/sql/pgDatabase';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../support/databases';
import { aStreamName, anEvent, delay, eventStoreContract, follow } from './eventStoreContract';

/** globalSetup found a PostgreSQL server; without one the 'postgres' kind runs on PGlite too. */
const onServer = process.env.TEST_DATABASE_URL !== undefined;

for (const kind of databaseKinds) {
  let testDb: TestDatabase | null = null;
  let opened: SqlDatabase | null = null;
  const label = kind === 'postgres' && !onServer ? 'postgres (on PGlite: no server found)' : kind;
  // PGlite runs one transaction at a time, so transactions cannot overlap there.
  const serverOnly = kind === 'postgres' && onServer ? it : it.skip;
  if (!(kind === 'postgres' && onServer)) {
    process.stdout.write(`[${label}] the cases with overlapping transactions need a PostgreSQL server: skipped here\n`);
  }

  eventStoreContract(
    `PostgresEventStore on ${label}`,
    async () => {
      testDb = await createTestDatabase(kind);
      const db = await testDb.connect();
      opened = db;
      await migrateDatabase(db);
      return { store: new PostgresEventStore(db, { pollIntervalMs: 50 }), close: () => (testDb as TestDatabase).drop() };
    },
    {
      extraCases: (fixture) => {
        it('commits several appends to one stream made at once in the order they were made, each at its expected revision', async () => {
          const stream = aStreamName('same-batch');
          const [a, b, c] = [anEvent(), anEvent(), anEvent()];
          const results = await Promise.all([
            fixture().store.appendToStream(stream, [a], 'no_stream'),
            fixture().store.appendToStream(stream, [b], 0n),
            fixture().store.appendToStream(stream, [c], 1n),
          ]);
          expect(results.map((r) => r.nextExpectedRevision)).toEqual([0n, 1n, 2n]);
          expect(results[0]!.globalPosition < results[1]!.globalPosition && results[1]!.globalPosition < results[2]!.globalPosition).toBe(true);
          expect((await fixture().store.readStream(stream)).map((e) => e.eventId)).toEqual([a.eventId, b.eventId, c.eventId]);
        });

        it('refuses, within one batch, a second append of the same events or a second append at a revision already taken', async () => {
          const stream = aStreamName('same-batch-conflict');
          const [a, b] = [anEvent(), anEvent()];
          const outcomes = await Promise.allSettled([
            fixture().store.appendToStream(stream, [a], 'no_stream'),
            fixture().store.appendToStream(stream, [b], 'no_stream'),
          ]);
          expect(outcomes[0]!.status).toBe('fulfilled');
          expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedRevisionError);
          expect((await fixture().store.readStream(stream)).map((e) => e.eventId)).toEqual([a.eventId]);
        });

        it('refuses an append that depends on a refused one, even at a revision that fits, until a fresh append comes', async () => {
          const stream = aStreamName('pipeline-refused');
          await fixture().store.appendToStream(stream, [anEvent()], 'no_stream');
          const pipeline = (fixture().store as PostgresEventStore).pipeline(stream);
          const [wrong, dependent] = [
            fixture().store.appendToStream(stream, [anEvent()], 5n, { pipeline }),
            fixture().store.appendToStream(stream, [anEvent()], 0n, { pipeline }),
          ];
          await expect(wrong).rejects.toBeInstanceOf(WrongExpectedRevisionError);
          await expect(dependent).rejects.toBeInstanceOf(WrongExpectedRevisionError);
          const fresh = await fixture().store.appendToStream(stream, [anEvent()], 0n);
          expect(fresh.nextExpectedRevision).toBe(1n);
          expect(await fixture().store.readStream(stream)).toHaveLength(2);
        });

        it('refuses an append made with a pipeline of another stream or another store, and writes nothing', async () => {
          const stream = aStreamName('foreign-pipeline');
          const store = fixture().store as PostgresEventStore;
          const another = store.pipeline(aStreamName('other-stream'));
          await expect(store.appendToStream(stream, [anEvent()], 'no_stream', { pipeline: another })).rejects.toThrow('not a pipeline of this store');
          await expect(store.appendToStream(stream, [anEvent()], 'no_stream', { pipeline: { streamId: stream } })).rejects.toThrow('not a pipeline of this store');
          expect(await store.readStream(stream)).toEqual([]);
        });

        it('refuses an append that depends on one that turned out a repeat, although another writer moved the stream to the revision it expected', async () => {
          const stream = aStreamName('pipeline-repeat');
          const first = anEvent();
          await fixture().store.appendToStream(stream, [first], 'no_stream');
          // Another writer (a store object of its own, as in another process) writes revision 1.
          const other = new PostgresEventStore(opened as SqlDatabase);
          await other.appendToStream(stream, [anEvent()], 0n);
          // This one repeats the first append, and appends behind it as if it had been new.
          const pipeline = (fixture().store as PostgresEventStore).pipeline(stream);
          const [repeat, dependent] = [
            fixture().store.appendToStream(stream, [first], 'no_stream', { pipeline }),
            fixture().store.appendToStream(stream, [anEvent()], 1n, { pipeline }),
          ];
          expect((await repeat).nextExpectedRevision).toBe(0n);
          await expect(dependent).rejects.toBeInstanceOf(WrongExpectedRevisionError);
          expect(await fixture().store.readStream(stream)).toHaveLength(2);
        });

        serverOnly('makes a second appender wait while one holds its transaction open, so a follower never passes a position that is still to appear (PostgreSQL server only)', async () => {
          const url = (testDb as TestDatabase).url as string;
          const pool = new PgDatabase({ connectionString: url, maxConnections: 5 });
          const anchor = await fixture().store.appendToStream(aStreamName('hold-anchor'), [anEvent()], 'no_stream');
          const [first, second] = [aStreamName('held'), aStreamName('waiting')];
          const follower = follow(fixture().store, { from: 'checkpoint', checkpoint: anchor.checkpoint }, (e) => e.streamId === first || e.streamId === second);
          const [a, b] = [anEvent(), anEvent()];
          let held: HeldAppend | undefined;
          try {
            // One process has appended and not committed yet.
            held = await appendHeldOpen(url, first, a, 'no_stream');
            // Another process's append: it must not take a position before the holder commits.
            let secondDone = false;
            const waiting = new PostgresEventStore(pool).appendToStream(second, [b], 'no_stream').then((r) => {
              secondDone = true;
              return r;
            });
            await delay(300);
            expect(secondDone).toBe(false);
            expect(follower.mine).toEqual([]);

            await held.commit();
            const waitingResult = await waiting;
            expect(held.position < waitingResult.globalPosition).toBe(true);
            await follower.until(() => follower.mine.length >= 2, 'both events');
            await delay(200);
            expect(follower.mine.map((e) => e.eventId)).toEqual([a.eventId, b.eventId]);
            expect(follower.errors).toEqual([]);
          } finally {
            await held?.end();
            await follower.stop();
            await pool.close();
          }
        });

        serverOnly('reads the stream\'s revision only once it holds the append lock: a writer that came second is refused, not failed (PostgreSQL server only)', async () => {
          const url = (testDb as TestDatabase).url as string;
          const pool = new PgDatabase({ connectionString: url, maxConnections: 5 });
          const stream = aStreamName('lock-then-read');
          const first = anEvent();
          await fixture().store.appendToStream(stream, [first], 'no_stream');
          const holderEvent = anEvent();
          let held: HeldAppend | undefined;
          try {
            // One process appends revision 1 and holds its transaction open.
            held = await appendHeldOpen(url, stream, holderEvent, 0n);
            // Another process appends at the same revision, believing the stream still at 0.
            const late = new PostgresEventStore(pool).appendToStream(stream, [anEvent()], 0n);
            const outcome = late.then(
              () => 'appended',
              (error: unknown) => error,
            );
            // Once it waits for the append lock, the holder commits.
            await waitUntil(async () => (await lockWaiters(pool)) > 0);
            await held.commit();
            expect(await outcome).toBeInstanceOf(WrongExpectedRevisionError);
            expect((await fixture().store.readStream(stream)).map((e) => e.eventId)).toEqual([first.eventId, holderEvent.eventId]);
          } finally {
            await held?.end();
            await pool.close();
          }
        });

        serverOnly('with two batches in flight, sends appends to other streams while a batch waits, and never decides a stream\'s next append before its batch answered (PostgreSQL server only)', async () => {
          const url = (testDb as TestDatabase).url as string;
          const pool = new PgDatabase({ connectionString: url, maxConnections: 5 });
          const store = new PostgresEventStore(pool, { maxBatchesInFlight: 2 });
          const [busy, other] = [aStreamName('in-flight'), aStreamName('alongside')];
          const holder = new Client({ connectionString: url });
          await holder.connect();
          try {
            // Another process holds the append lock: the first batch waits for it.
            await holder.query(`SELECT pg_advisory_lock(hashtextextended('chat:append', 0))`);
            const pipeline = store.pipeline(busy);
            // At a revision the stream does not have: it will be refused.
            const wrong = store.appendToStream(busy, [anEvent()], 5n, { pipeline }).catch((error: unknown) => error);
            await waitUntil(async () => (await lockWaiters(pool)) === 1);
            // Made behind it in its pipeline, at a revision that fits what is stored: had it
            // been sent before the first one's outcome was known, it would have landed.
            const behind = store.appendToStream(busy, [anEvent()], 'no_stream', { pipeline }).catch((error: unknown) => error);
            // Another stream's append does not depend on it: it is sent at once.
            const b = anEvent();
            const alongside = store.appendToStream(other, [b], 'no_stream');
            await waitUntil(async () => (await lockWaiters(pool)) === 2);
            expect(store.queuedAppends).toBe(1);

            await holder.query(`SELECT pg_advisory_unlock(hashtextextended('chat:append', 0))`);
            expect(await wrong).toBeInstanceOf(WrongExpectedRevisionError);
            expect(await behind).toBeInstanceOf(WrongExpectedRevisionError);
            expect((await alongside).nextExpectedRevision).toBe(0n);
            expect(await store.readStream(busy)).toEqual([]);
            expect((await store.readStream(other)).map((e) => e.eventId)).toEqual([b.eventId]);
          } finally {
            await holder.end();
            await pool.close();
          }
        });

        serverOnly('refuses as busy, writing nothing, a batch sent behind another that could not start within the wait an append is allowed (PostgreSQL server only)', async () => {
          const url = (testDb as TestDatabase).url as string;
          const pool = new PgDatabase({ connectionString: url, maxConnections: 5 });
          const store = new PostgresEventStore(pool, { maxBatchesInFlight: 2, maxAppendWaitMs: 300 });
          const [first, second] = [aStreamName('waited'), aStreamName('too-late')];
          const holder = new Client({ connectionString: url });
          await holder.connect();
          try {
            await holder.query(`SELECT pg_advisory_lock(hashtextextended('chat:append', 0))`);
            const waited = store.appendToStream(first, [anEvent()], 'no_stream');
            await waitUntil(async () => (await lockWaiters(pool)) === 1);
            const tooLate = store.appendToStream(second, [anEvent()], 'no_stream');
            const tooLateOutcome = tooLate.then(
              () => 'appended',
              (error: unknown) => error,
            );
            await delay(600);
            await holder.query(`SELECT pg_advisory_unlock(hashtextextended('chat:append', 0))`);
            // The first batch was sent with nothing ahead of it: it waits as long as it takes.
            expect((await waited).nextExpectedRevision).toBe(0n);
            expect(await tooLateOutcome).toBeInstanceOf(EventStoreBusyError);
            expect(await store.readStream(second)).toEqual([]);
            // The store goes on: the same append, tried again, lands.
            expect((await store.appendToStream(second, [anEvent()], 'no_stream')).nextExpectedRevision).toBe(0n);
          } finally {
            await holder.end();
            await pool.close();
          }
        });

        serverOnly('delivers new events at once while a transaction stays open in another database and in this one (PostgreSQL server only)', async () => {
          const url = new URL((testDb as TestDatabase).url as string);
          const elsewhere = new URL(url.toString());
          elsewhere.pathname = '/postgres';
          const open = [new Client({ connectionString: elsewhere.toString() }), new Client({ connectionString: url.toString() })];
          const anchor = await fixture().store.appendToStream(aStreamName('horizon-anchor'), [anEvent()], 'no_stream');
          const stream = aStreamName('horizon');
          const follower = follow(fixture().store, { from: 'checkpoint', checkpoint: anchor.checkpoint }, (e) => e.streamId === stream);
          try {
            for (const client of open) {
              await client.connect();
              // A transaction with an id of its own, left open: the old horizon stopped at it.
              await client.query('BEGIN');
              await client.query('SELECT pg_current_xact_id()');
            }
            const events = [anEvent(), anEvent(), anEvent()];
            await fixture().store.appendToStream(stream, events, 'no_stream');
            await follower.until(() => follower.mine.length >= 3, 'the three events', 2000);
            expect(follower.mine.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
          } finally {
            await follower.stop();
            for (const client of open) await client.end().catch(() => undefined);
          }
        });
      },
    },
  );
}

/** Polls `condition` until it holds (a test's own deadline ends it otherwise). */
async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await delay(10);
}

/** How many sessions of this database wait for an advisory lock (the append lock, here). */
async function lockWaiters(db: SqlDatabase): Promise<number> {
  const result = await db.query(
    `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return result.rows.length;
}

/**
 * Another process in the middle of a group commit: it has appended `event` through
 * append_events, holding the append lock, and commits only when told.
 */
async function appendHeldOpen(url: string, stream: string, event: EventToAppend, expected: bigint | 'no_stream') {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  const result = await client.query<{ outcome: string; position: string }>(
    `SELECT result_outcome AS outcome, result_position::text AS position
       FROM append_events($1::text[], $2::bigint[], ARRAY[1], ARRAY[NULL]::integer[], ARRAY[false], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[], 'chat_events', NULL)`,
    [[stream], [expected === 'no_stream' ? '-1' : expected.toString()], [event.eventId], [event.type], [JSON.stringify(event.data)], [JSON.stringify(event.metadata)]],
  );
  if (result.rows[0]?.outcome !== 'appended') throw new Error(`the held append was not appended: ${JSON.stringify(result.rows)}`);
  return {
    position: BigInt(result.rows[0].position),
    commit: async () => {
      await client.query('COMMIT');
    },
    end: () => client.end().catch(() => undefined),
  };
}

type HeldAppend = Awaited<ReturnType<typeof appendHeldOpen>>;
