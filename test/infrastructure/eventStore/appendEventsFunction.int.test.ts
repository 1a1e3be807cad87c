/**
 * append_events(), the group commit in one statement (schema migration 13), called as
 * the store calls it, on PostgreSQL and on PGlite.
 */
import { Client } from 'pg';
import type { EventToAppend } from '../../../src/application/ports/eventStore';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import type { SqlDatabase, SqlExecutor } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../support/databases';
import { aStreamName, anEvent } from './eventStoreContract';

const onServer = process.env.TEST_DATABASE_URL !== undefined;

/** One append of a call: its stream, expected revision (-1: no stream, null: any), events, pipeline. */
interface Append {
  stream: string;
  expected: number | null;
  events: EventToAppend[];
  pipeline?: number;
  refused?: boolean;
}

interface Outcome {
  outcome: 'appended' | 'repeat' | 'conflict';
  revision: string | null;
  position: string | null;
}

function appendEvents(db: SqlExecutor, appends: Append[], lockWaitMs: number | null = null): Promise<Outcome[]> {
  const events = appends.flatMap((a) => a.events);
  return db
    .query<Outcome>(
      `SELECT result_outcome AS outcome, result_revision::text AS revision, result_position::text AS position
         FROM append_events($1::text[], $2::bigint[], $3::integer[], $4::integer[], $5::boolean[],
                            $6::uuid[], $7::text[], $8::jsonb[], $9::jsonb[], $10::text, $11::integer)`,
      [
        appends.map((a) => a.stream),
        appends.map((a) => (a.expected === null ? null : String(a.expected))),
        appends.map((a) => a.events.length),
        appends.map((a) => a.pipeline ?? null),
        appends.map((a) => a.refused ?? false),
        events.map((e) => e.eventId),
        events.map((e) => e.type),
        events.map((e) => JSON.stringify(e.data)),
        events.map((e) => JSON.stringify(e.metadata)),
        'chat_events',
        lockWaitMs,
      ],
    )
    .then((result) => result.rows);
}

async function storedIds(db: SqlDatabase, stream: string): Promise<string[]> {
  const result = await db.query<{ event_id: string }>(`SELECT event_id::text FROM events WHERE stream_id = $1 ORDER BY stream_revision`, [stream]);
  return result.rows.map((row) => row.event_id);
}

for (const kind of databaseKinds) {
  const label = kind === 'postgres' && !onServer ? 'postgres (on PGlite: no server found)' : kind;
  const serverOnly = kind === 'postgres' && onServer ? it : it.skip;

  describe(`append_events() on ${label}`, () => {
    let testDb: TestDatabase;
    let db: SqlDatabase;

    beforeAll(async () => {
      testDb = await createTestDatabase(kind);
      db = await testDb.connect();
      await migrateDatabase(db);
    });
    afterAll(async () => {
      await testDb.drop();
    });

    it('refuses an append at a wrong revision with the stream\'s revision, writes none of its events, and lands the others of the call', async () => {
      const [taken, fresh] = [aStreamName('taken'), aStreamName('fresh')];
      const first = anEvent();
      await appendEvents(db, [{ stream: taken, expected: -1, events: [first] }]);
      const [wrong, right] = [[anEvent(), anEvent()], [anEvent()]];
      const outcomes = await appendEvents(db, [
        { stream: taken, expected: 3, events: wrong },
        { stream: fresh, expected: -1, events: right },
        { stream: taken, expected: -1, events: [anEvent()] },
      ]);
      expect(outcomes.map((o) => [o.outcome, o.revision])).toEqual([
        ['conflict', '0'],
        ['appended', '0'],
        ['conflict', '0'],
      ]);
      expect(await storedIds(db, taken)).toEqual([first.eventId]);
      expect(await storedIds(db, fresh)).toEqual(right.map((e) => e.eventId));
    });

    it('decides appends to one stream in the order given, each on the ones before it, and gives each its last revision and position', async () => {
      const stream = aStreamName('in-order');
      const [a, b, c] = [[anEvent(), anEvent()], [anEvent()], [anEvent()]];
      const outcomes = await appendEvents(db, [
        { stream, expected: -1, events: a },
        { stream, expected: 1, events: b },
        { stream, expected: null, events: c },
      ]);
      expect(outcomes.map((o) => [o.outcome, o.revision])).toEqual([
        ['appended', '1'],
        ['appended', '2'],
        ['appended', '3'],
      ]);
      const positions = outcomes.map((o) => BigInt(o.position as string));
      expect(positions[0]! < positions[1]! && positions[1]! < positions[2]!).toBe(true);
      expect(await storedIds(db, stream)).toEqual([...a, ...b, ...c].map((e) => e.eventId));
    });

    it('answers a retry of a landed append with the original revision and position, and refuses what was made behind it in its pipeline', async () => {
      const stream = aStreamName('repeat');
      const landed = [anEvent(), anEvent()];
      const [original] = await appendEvents(db, [{ stream, expected: -1, events: landed }]);
      const outcomes = await appendEvents(db, [
        { stream, expected: -1, events: landed, pipeline: 1 },
        // Decided as if the retry had been new: at revision 1, which fits, and still refused.
        { stream, expected: 1, events: [anEvent()], pipeline: 1 },
      ]);
      expect(outcomes).toEqual([
        { outcome: 'repeat', revision: '1', position: original!.position },
        { outcome: 'conflict', revision: '1', position: null },
      ]);
      expect(await storedIds(db, stream)).toEqual(landed.map((e) => e.eventId));
    });

    it('refuses an append whose pipeline broke before the call, and one that repeats only part of what is stored', async () => {
      const stream = aStreamName('refused');
      const stored = anEvent();
      await appendEvents(db, [{ stream, expected: -1, events: [stored] }]);
      const outcomes = await appendEvents(db, [
        { stream, expected: 0, events: [anEvent()], pipeline: 1, refused: true },
        { stream, expected: 0, events: [stored, anEvent()] },
      ]);
      expect(outcomes.map((o) => o.outcome)).toEqual(['conflict', 'conflict']);
      expect(await storedIds(db, stream)).toEqual([stored.eventId]);
    });

    it('leaves nothing when the call fails: an event the table refuses fails the whole batch, the appends before it included', async () => {
      const [good, bad] = [aStreamName('good'), aStreamName('bad')];
      const notAType = { ...anEvent(), type: null as unknown as string };
      await expect(
        appendEvents(db, [
          { stream: good, expected: -1, events: [anEvent()] },
          { stream: bad, expected: -1, events: [notAType] },
        ]),
      ).rejects.toThrow(/null value/);
      expect(await storedIds(db, good)).toEqual([]);
      expect(await storedIds(db, bad)).toEqual([]);
    });

    it('refuses to run under REPEATABLE READ, whose snapshot would be taken before the append lock, and writes nothing', async () => {
      const stream = aStreamName('isolation');
      await expect(
        db.transaction((tx) => appendEvents(tx, [{ stream, expected: -1, events: [anEvent()] }]), { firstStatement: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ' }),
      ).rejects.toThrow('append_events needs READ COMMITTED, not repeatable read');
      expect(await storedIds(db, stream)).toEqual([]);
    });

    serverOnly('gives up waiting for the append lock after lock_wait_ms, writing nothing, and leaves the session\'s lock_timeout as it was (PostgreSQL server only)', async () => {
      const holder = new Client({ connectionString: testDb.url as string });
      const caller = new Client({ connectionString: testDb.url as string });
      await holder.connect();
      await caller.connect();
      try {
        await holder.query(`SELECT pg_advisory_lock(hashtextextended('chat:append', 0))`);
        const stream = aStreamName('lock-wait');
        const event = anEvent();
        const callerDb: SqlExecutor = {
          query: async (text, params) => {
            const result = await caller.query(text, params);
            return { rows: result.rows, rowCount: result.rowCount ?? 0 };
          },
        };
        await expect(appendEvents(callerDb, [{ stream, expected: -1, events: [event] }], 50)).rejects.toMatchObject({ code: '55P03' });
        expect((await caller.query(`SHOW lock_timeout`)).rows[0]).toEqual({ lock_timeout: '0' });
        await holder.query(`SELECT pg_advisory_unlock(hashtextextended('chat:append', 0))`);
        expect(await storedIds(db, stream)).toEqual([]);
        expect((await appendEvents(callerDb, [{ stream, expected: -1, events: [event] }], 50))[0]?.outcome).toBe('appended');
      } finally {
        await holder.end();
        await caller.end();
      }
    });
  });
}
