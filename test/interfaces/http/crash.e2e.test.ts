import { randomUUID } from 'node:crypto';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, withConnection, type TestDatabase } from '../../support/databases';
import { as, eventually, metric } from '../../support/http';
import { auditProjection, seqsAreContiguous } from '../../support/readModels';
import { spawnServer, stopServer, type ServerProcess } from '../../support/serverProcess';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

const ROOMS = 3;
const PER_ROOM = 20;

/**
 * Holds the projection back without touching the server: every projection batch that
 * would write a message fails (and rolls back, checkpoint included) until it is dropped.
 * Appends go on; the sends answer after the read-your-writes wait runs out.
 */
const STALL_PROJECTION = [
  `CREATE FUNCTION crash_test_stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'held back by the crash test'; END $$`,
  `CREATE TRIGGER crash_test_stall BEFORE INSERT ON rm_messages FOR EACH ROW EXECUTE FUNCTION crash_test_stall()`,
];
const RESUME_PROJECTION = [`DROP TRIGGER crash_test_stall ON rm_messages`, `DROP FUNCTION crash_test_stall()`];

/**
 * A real server process is SIGKILLed in the middle of a burst of sends, after messages
 * were appended and before any of them was projected, then started again on the same
 * database. The read models must end up with every stored message exactly once, and a
 * client retrying its unanswered sends (same clientMessageId) must not create a second
 * copy of any.
 */
describe.each(databaseKinds)('a server killed mid-burst on %s', (kind) => {
  let database: TestDatabase;
  let server: ServerProcess | null = null;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    if (server !== null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await database?.drop();
  });

  const offline = <T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> => withConnection(database, work);

  it('holds every stored message exactly once after a restart, and client retries add none', async () => {
    server = await spawnServer(database);
    const lena = `lena-${randomUUID().slice(0, 8)}`;
    const borrowers = Array.from({ length: ROOMS }, (_, i) => `b${i}-${randomUUID().slice(0, 8)}`);
    const postId = `post-${randomUUID().slice(0, 8)}`;
    expect((await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lena, title: 'Van' })).status).toBe(200);
    const rooms: string[] = [];
    for (const borrower of borrowers) rooms.push((await as(server.url, tokenFor(borrower)).post('/api/rooms', { postId })).body.room.roomId);
    await stopServer(server);
    await offline(async (db) => {
      for (const statement of STALL_PROJECTION) await db.query(statement);
    });
    server = await spawnServer(database);

    // The burst: every borrower sends PER_ROOM messages at once, each with its own clientMessageId.
    const burst = rooms.flatMap((roomId, r) =>
      Array.from({ length: PER_ROOM }, (_, i) => ({ roomId, sender: borrowers[r] as string, clientMessageId: `burst-${r}-${i}`, body: `message ${i}` })),
    );
    const running = server;
    let answered = 0;
    const sends = burst.map((m) =>
      as(running.url, tokenFor(m.sender))
        .post(`/api/rooms/${m.roomId}/messages`, { clientMessageId: m.clientMessageId, body: m.body })
        .then((res) => {
          answered += 1;
          return res.status;
        }),
    );
    // Killed as soon as sends are stored: their answers wait for the stalled projection
    // (up to 5 s, read-your-writes), so most clients never hear back.
    await eventually(async () => (await metric(running.url, 'chat_commands_total{command="sendMessage",outcome="ok"}')) >= 1, 30_000, 'a first stored send');
    running.child.kill('SIGKILL');
    expect((await running.exited).signal).toBe('SIGKILL');
    server = null;
    const outcomes = await Promise.allSettled(sends);
    // Most sends were cut off by the kill: their clients never heard back.
    expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);

    // Stored but not projected: exactly the window a crash must survive.
    const behind = await offline(async (db) => {
      const audit = await auditProjection(db);
      for (const statement of RESUME_PROJECTION) await db.query(statement);
      return audit;
    });
    expect(behind.rows).toEqual([]);
    expect(behind.events.length).toBeGreaterThanOrEqual(answered);

    server = await spawnServer(database);
    const restarted = server;
    await eventually(async () => (await fetch(`${restarted.url}/readyz`)).status === 200, 30_000, 'readyz');

    // What the users see: no gaps, no doubles, and the lender's unread count is the message count.
    for (const [r, roomId] of rooms.entries()) {
      const page = await as(restarted.url, tokenFor(lena)).get(`/api/rooms/${roomId}/messages?limit=200`);
      const seqs = page.body.messages.map((m: { seq: number }) => m.seq);
      expect(seqs).toEqual(seqs.map((_: number, i: number) => i + 1));
      expect(new Set(page.body.messages.map((m: { clientMessageId: string }) => m.clientMessageId)).size).toBe(seqs.length);
      const room = (await as(restarted.url, tokenFor(lena)).get(`/api/rooms/${roomId}`)).body.room;
      expect({ room: r, unread: room.unreadCount }).toEqual({ room: r, unread: seqs.length });
    }

    // Every client retries its whole burst: what was stored comes back (200), the rest is stored now (201).
    const retries = await Promise.all(
      burst.map((m) =>
        as(restarted.url, tokenFor(m.sender)).post(`/api/rooms/${m.roomId}/messages`, { clientMessageId: m.clientMessageId, body: m.body }),
      ),
    );
    expect(retries.every((res) => res.status === 200 || res.status === 201)).toBe(true);
    for (const roomId of rooms) {
      const page = await as(restarted.url, tokenFor(lena)).get(`/api/rooms/${roomId}/messages?limit=200`);
      expect(page.body.messages).toHaveLength(PER_ROOM);
      expect((await as(restarted.url, tokenFor(lena)).get(`/api/rooms/${roomId}`)).body.room.unreadCount).toBe(PER_ROOM);
    }
    await stopServer(restarted);
    server = null;

    // And the tables themselves: rm_messages is the MessageSent events, once each.
    const db = await database.connect();
    try {
      const audit = await auditProjection(db);
      expect(audit.events).toHaveLength(ROOMS * PER_ROOM);
      expect(audit.rows).toEqual(audit.events);
      expect(seqsAreContiguous(audit.rows)).toBe(true);
      expect(audit.wrongUnread).toEqual([]);
      expect(audit.wrongLastSeq).toEqual([]);
    } finally {
      await db.close();
    }
  }, 180_000);
});
