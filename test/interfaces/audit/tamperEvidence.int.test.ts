import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { randomUUID } from 'node:crypto';
import { AnchorKeyRing } from '../../../src/application/audit/anchorKeys';
import { AnchorLedger } from '../../../src/application/audit/anchors';
import { eventHash } from '../../../src/application/audit/hashChain';
import type { EventMetadata } from '../../../src/application/ports/eventStore';
import { randomIds } from '../../../src/application/ports/ids';
import { makePostCommands } from '../../../src/application/post/postCommands';
import { makeRoomCommands, type Actor } from '../../../src/application/room/roomCommands';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import type { SqlExecutor } from '../../../src/infrastructure/sql/sqlDatabase';
import { runCli } from '../../support/auditCli';
import { createTestDatabase, databaseKinds, withConnection, type TestDatabase } from '../../support/databases';
import { as, eventually } from '../../support/http';
import { ManualClock, startTestServer } from '../../support/server';
import { tamperWithEvents } from '../../support/tamper';
import { TEST_AUDIT_ANCHOR_KEY, tokenFor } from '../../support/tokens';

/**
 * What a direct-SQL edit of the store looks like to the audit tools: each kind of
 * tampering is named, with its room and revision, by `npm run audit -- verify` and by
 * `GET /api/audit/verify`; an untouched room verifies.
 */
describe.each(databaseKinds)('tamper evidence on %s', (kind) => {
  let tdb: TestDatabase;
  const clock = new ManualClock(new Date('2026-03-01T09:00:00.000Z'));
  const rooms: Record<string, string> = {};
  const borrowers: Record<string, Actor> = {};
  const scenarios = ['editedData', 'editedMetadata', 'editedEventId', 'deletedMiddle', 'deletedLast', 'recomputed', 'reordered', 'untouched'];

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    const postId = `post-${randomUUID().slice(0, 8)}`;
    const lena: Actor = { userId: `lena-${randomUUID().slice(0, 6)}`, correlationId: randomUUID() };
    await withConnection(tdb, async (db) => {
      await migrateDatabase(db);
      const commands = makeRoomCommands({ eventStore: new PostgresEventStore(db), clock, ids: randomIds });
      await makePostCommands({ eventStore: new PostgresEventStore(db), clock, ids: randomIds }).upsertPost(
        { postId, ownerId: lena.userId, title: 'Kayak' },
        randomUUID(),
      );
      for (const scenario of scenarios) {
        borrowers[scenario] = { userId: `${scenario}-${randomUUID().slice(0, 6)}`, correlationId: randomUUID() };
        rooms[scenario] = (await commands.openRoom(postId, borrowers[scenario])).room.roomId;
      }
    });
    // First anchor: every room at revision 0.
    await anchorUntilEveryRoomIsAt(0);
    clock.advance(60_000);
    await withConnection(tdb, async (db) => {
      const commands = makeRoomCommands({ eventStore: new PostgresEventStore(db), clock, ids: randomIds });
      for (const scenario of scenarios) {
        const roomId = rooms[scenario] as string;
        const bob = borrowers[scenario] as Actor;
        await commands.sendMessage({ roomId, clientMessageId: 'm1', body: 'Is it still free on Saturday?' }, bob);
        await commands.sendMessage({ roomId, clientMessageId: 'm2', body: 'Yes, from 9am.' }, lena);
        await commands.sendMessage({ roomId, clientMessageId: 'm3', body: 'Great, see you then.' }, bob);
      }
    });
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  /**
   * Anchors until every room's anchored head is at `revision`: on a shared PostgreSQL
   * server another suite's open transaction can hold the newest events back from a read
   * for a moment, and the next anchor then picks them up.
   */
  async function anchorUntilEveryRoomIsAt(revision: number): Promise<void> {
    await eventually(async () => {
      expect((await runCli(tdb, ['anchor'])).code).toBe(0);
      return withConnection(tdb, async (db) => {
        const ledger = new AnchorLedger(new PostgresEventStore(db), new AnchorKeyRing([TEST_AUDIT_ANCHOR_KEY]));
        await ledger.refresh();
        return scenarios.every((scenario) => ledger.pointOf(`room-${rooms[scenario]}`)?.revision === revision);
      });
    });
  }

  it('verifies the untouched store, and records a second anchor at every room\'s head', async () => {
    const verified = await runCli(tdb, ['verify']);
    expect(verified.stdout).toMatch(/^OK: /m);
    expect(verified.code).toBe(0);
    const anchored = await runCli(tdb, ['anchor']);
    expect(anchored.code).toBe(0);
    expect(anchored.stdout).toMatch(/^anchored \d+ streams; anchor head: revision \d+ mac [0-9a-f]{64}$/m);
    await anchorUntilEveryRoomIsAt(3);
  });

  describe('after direct SQL edits', () => {
    beforeAll(async () => {
      // The events table refuses these edits (see appendOnly.int.test.ts): they are made
      // as its owner or a superuser could, with the append-only trigger switched off.
      await withConnection(tdb, (owner) => tamperWithEvents(owner, async (db) => {
        const at = (scenario: string, revision: number) => [`room-${rooms[scenario]}`, revision];
        const where = `WHERE stream_id = $1 AND stream_revision = $2`;
        await db.query(`UPDATE events SET data = jsonb_set(data, '{body}', '"Yes, from 10am."') ${where}`, at('editedData', 2));
        await db.query(`UPDATE events SET metadata = jsonb_set(metadata, '{actorId}', '"mallory"') ${where}`, at('editedMetadata', 1));
        await db.query(`UPDATE events SET event_id = $3 ${where}`, [...at('editedEventId', 1), randomUUID()]);
        await db.query(`DELETE FROM events ${where}`, at('deletedMiddle', 2));
        await db.query(`DELETE FROM events ${where}`, at('deletedLast', 3));
        await db.query(`UPDATE events SET data = jsonb_set(data, '{body}', '"No."') ${where}`, at('recomputed', 2));
        await recomputeHashes(db, `room-${rooms.recomputed}`, 2);
        const reordered = `room-${rooms.reordered}`;
        await db.query(`UPDATE events SET stream_revision = 100 ${where}`, [reordered, 1]);
        await db.query(`UPDATE events SET stream_revision = 1 ${where}`, [reordered, 2]);
        await db.query(`UPDATE events SET stream_revision = 2 ${where}`, [reordered, 100]);
      }));
    });

    const expected: Array<[string, number, string]> = [
      ['editedData', 2, 'hash_mismatch'],
      ['editedMetadata', 1, 'hash_mismatch'],
      ['editedEventId', 1, 'hash_mismatch'],
      ['deletedMiddle', 2, 'revision_gap'],
      ['deletedLast', 3, 'missing_tail'],
      // Anchored at revisions 0 and 3: the rewrite is placed after 0, up to 3.
      ['recomputed', 1, 'anchor_mismatch'],
      ['reordered', 1, 'broken_link'],
    ];

    it('makes `audit verify` exit 1, naming each tampered room, its first bad revision and what is wrong', async () => {
      const result = await runCli(tdb, ['verify']);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^FAILED: /m);
      for (const [scenario, revision, problem] of expected) {
        expect(result.stdout).toContain(`FAIL room ${rooms[scenario]} at revision ${revision}: ${problem}: `);
      }
      expect(result.stdout).toContain(`revisions 1 to 3`);
      expect(result.stdout).not.toContain(rooms.untouched as string);
      expect(result.stdout.match(/^FAIL /gm)).toHaveLength(expected.length);
    });

    it('verifies one room at a time: exit 0 for the untouched room, 1 for a tampered one, 2 for an unknown one', async () => {
      expect((await runCli(tdb, ['verify', '--room', rooms.untouched as string])).code).toBe(0);
      const tampered = await runCli(tdb, ['verify', '--room', rooms.deletedLast as string]);
      expect(tampered.code).toBe(1);
      expect(tampered.stdout).toContain(`FAIL room ${rooms.deletedLast} at revision 3: missing_tail: the stream ends at revision 2`);
      const unknown = await runCli(tdb, ['verify', '--room', randomUUID()]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/^audit: room [0-9a-f-]{36} not found$/m);
    });

    it('is reported the same way over HTTP to an auditor, and each of those reads is itself recorded', async () => {
      const server = await startTestServer(kind, { database: tdb, clock });
      const auditorId = `auditor-${randomUUID().slice(0, 6)}`;
      try {
        const auditor = as(server.url, tokenFor(auditorId, { roles: ['auditor'] }));
        const all = await auditor.get('/api/audit/verify');
        expect(all.status).toBe(200);
        expect(all.body.verified).toBe(false);
        const failures = new Map((all.body.failures as Array<{ roomId: string; problem: { revision: number; kind: string } }>).map((f) => [f.roomId, f.problem]));
        for (const [scenario, revision, problem] of expected) {
          expect(failures.get(rooms[scenario] as string)).toMatchObject({ revision, kind: problem });
        }
        expect(failures.has(rooms.untouched as string)).toBe(false);

        const deletedLast = await auditor.get(`/api/audit/rooms/${rooms.deletedLast}/events`);
        expect(deletedLast.body).toMatchObject({ verified: false, problem: { revision: 3, kind: 'missing_tail' } });
        expect(deletedLast.body.events).toHaveLength(3);
        const untouched = await auditor.get(`/api/audit/rooms/${rooms.untouched}/events`);
        expect(untouched.body).toMatchObject({ verified: true, problem: null });

        const lines = (await auditor.get('/api/audit/verify?format=jsonl')).text.trim().split('\n').map((line) => JSON.parse(line));
        expect(lines.at(-1)).toMatchObject({ summary: { verified: false } });
        expect(lines.find((l) => l.roomId === rooms.reordered)).toMatchObject({ verified: false, problem: { revision: 1, kind: 'broken_link' } });

      } finally {
        await server.close();
      }
      const accessed = await withConnection(tdb, (db) =>
        db.query<{ action: string; room: string | null }>(
          `SELECT data->>'action' AS action, data->>'roomId' AS room FROM events
            WHERE stream_id LIKE 'audit-access-%' AND event_type = 'AuditAccessed' AND data->>'actorId' = $1 ORDER BY global_position`,
          [auditorId],
        ),
      );
      expect(accessed.rows).toEqual([
        { action: 'verify', room: null },
        { action: 'room-events', room: rooms.deletedLast },
        { action: 'room-events', room: rooms.untouched },
        { action: 'verify', room: null },
      ]);
    });
  });
});

/** What someone with write access and no key can do: rewrite the chain from `fromRevision` so every hash matches again. */
async function recomputeHashes(db: SqlExecutor, streamId: string, fromRevision: number): Promise<void> {
  const rows = await db.query<{ revision: string; event_id: string; event_type: string; data: unknown; metadata: EventMetadata }>(
    `SELECT stream_revision::text AS revision, event_id::text, event_type, data, metadata FROM events
      WHERE stream_id = $1 AND stream_revision >= $2 - 1 ORDER BY stream_revision`,
    [streamId, fromRevision],
  );
  let prevHash = (rows.rows[0] as { metadata: EventMetadata }).metadata.hash;
  for (const row of rows.rows.slice(1)) {
    const hash = eventHash(prevHash, { eventId: row.event_id, type: row.event_type, data: row.data, metadata: row.metadata });
    await db.query(`UPDATE events SET metadata = metadata || jsonb_build_object('prevHash', $3::text, 'hash', $4::text) WHERE stream_id = $1 AND stream_revision = $2`, [
      streamId,
      row.revision,
      prevHash,
      hash,
    ]);
    prevHash = hash;
  }
}
