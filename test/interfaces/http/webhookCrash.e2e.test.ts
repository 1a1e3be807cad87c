import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { createTestDatabase, withConnection, type TestDatabase } from '../../support/databases';
import { as, eventually } from '../../support/http';
import { spawnServer, stopServer, type ServerProcess } from '../../support/serverProcess';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { HttpReceiver, newWebhookSecret } from '../../support/webhookReceiver';

const ROOMS = 3;
const PER_ROOM = 8;
const LATE = 4;

/** Holds the notification feeder back without touching the server: every outbox write fails, and its batch rolls back. */
const STALL_FEEDER = [
  `CREATE FUNCTION webhook_test_stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'held back by the test'; END $$`,
  `CREATE TRIGGER webhook_test_stall BEFORE INSERT ON notify_outbox FOR EACH ROW EXECUTE FUNCTION webhook_test_stall()`,
];
const RESUME_FEEDER = [`DROP TRIGGER webhook_test_stall ON notify_outbox`, `DROP FUNCTION webhook_test_stall()`];

/**
 * A server process is SIGKILLed while a webhook is in flight (the receiver holds it
 * unanswered), more messages wait behind it, and others are stored but not yet turned
 * into webhooks; started again on the same database, it must deliver every message: at
 * least once, each room in order, and the cut-off delivery again under the same
 * webhook-id, so the receiver can drop the repeat.
 */
describe('webhooks across a SIGKILL', () => {
  let database: TestDatabase;
  let receiver: HttpReceiver;
  let server: ServerProcess | null = null;
  const secret = newWebhookSecret();
  const env = () => ({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, WEBHOOK_TIMEOUT: '2s', NOTIFY_UNREAD_AFTER: '1h' });

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    receiver = await HttpReceiver.start();
  });
  afterAll(async () => {
    if (server !== null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await receiver?.close();
    await database?.drop();
  });

  it('loses no webhook and keeps each room in order', async () => {
    server = await spawnServer(database, env());
    const running = server;
    const lender = `lena-${randomUUID().slice(0, 8)}`;
    const postId = `post-${randomUUID().slice(0, 8)}`;
    expect((await as(running.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Tent' })).status).toBe(200);
    const rooms: Array<{ roomId: string; borrower: string }> = [];
    for (let r = 0; r < ROOMS; r++) {
      const borrower = `b${r}-${randomUUID().slice(0, 8)}`;
      rooms.push({ roomId: (await as(running.url, tokenFor(borrower)).post('/api/rooms', { postId })).body.room.roomId, borrower });
    }
    // The third message of the first room is held unanswered: the process dies with it in flight.
    const held = rooms[0]!.roomId;
    receiver.answer = (r) => (r.json?.data?.roomId === held && r.json.type === 'message.created' && r.json.data.seq === 3 ? 'hang' : { status: 200 });
    const sends = [];
    for (let i = 0; i < PER_ROOM; i++) {
      for (const room of rooms) {
        sends.push(as(running.url, tokenFor(room.borrower)).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: `m${i}` }));
      }
    }
    expect((await Promise.all(sends)).every((res) => res.status === 201)).toBe(true);
    await eventually(async () => receiver.of(held, 'message.created').some((r) => r.json.data.seq === 3), 15_000, 'the held delivery');
    // Then the feeder is held back (its outbox writes fail and roll back, checkpoint included)
    // and the second room gets more messages: stored, not yet turned into webhooks, at the kill.
    await withConnection(database, async (db) => {
      for (const statement of STALL_FEEDER) await db.query(statement);
    });
    const late = rooms[1]!;
    for (let i = 0; i < LATE; i++) {
      const res = await as(running.url, tokenFor(late.borrower)).post(`/api/rooms/${late.roomId}/messages`, { clientMessageId: randomUUID(), body: `late${i}` });
      expect(res.status).toBe(201);
    }
    running.child.kill('SIGKILL');
    expect((await running.exited).signal).toBe('SIGKILL');
    server = null;
    const cutOffId = receiver.of(held, 'message.created').find((r) => r.json.data.seq === 3)!.headers['webhook-id'];
    // Nothing after the held message of that room went out: the room waits, in order.
    expect(receiver.of(held, 'message.created').map((r) => r.json.data.seq)).toEqual([1, 2, 3]);

    expect(receiver.of(late.roomId, 'message.created').every((r) => r.json.data.seq <= PER_ROOM)).toBe(true);
    await withConnection(database, async (db) => {
      for (const statement of RESUME_FEEDER) await db.query(statement);
    });
    receiver.answer = () => ({ status: 200 });
    server = await spawnServer(database, env());
    const expected = (roomId: string): number => (roomId === late.roomId ? PER_ROOM + LATE : PER_ROOM);
    const verifier = new Webhook(secret);
    await eventually(
      async () => rooms.every((room) => new Set(receiver.of(room.roomId, 'message.created').map((r) => r.json.data.seq)).size === expected(room.roomId)),
      60_000,
      'every message after the restart',
    );
    for (const room of rooms) {
      const deliveries = receiver.of(room.roomId, 'message.created');
      for (const d of deliveries) expect(verifier.verify(d.body, d.headers)).toEqual(d.json);
      // A receiver that drops repeats by webhook-id sees every message once, in order.
      const seen = new Set<string>();
      const firstTimes = deliveries.filter((d) => !seen.has(d.headers['webhook-id']!) && seen.add(d.headers['webhook-id']!));
      expect(firstTimes.map((d) => d.json.data.seq)).toEqual(Array.from({ length: expected(room.roomId) }, (_, i) => i + 1));
    }
    // The delivery cut off by the kill came again, under the same id.
    expect(receiver.of(held, 'message.created').filter((r) => r.headers['webhook-id'] === cutOffId)).toHaveLength(2);
    const status = await as(server.url, TEST_INTERNAL_TOKEN).get('/api/internal/webhooks/status');
    await eventually(async () => (await as(server!.url, TEST_INTERNAL_TOKEN).get('/api/internal/webhooks/status')).body.pending === 0, 15_000, 'an empty queue');
    expect(status.body.dead).toBe(0);
    await stopServer(server);
    server = null;
  }, 180_000);
});
