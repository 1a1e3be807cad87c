import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { databaseKinds } from '../../support/databases';
import { as, eventually, metric } from '../../support/http';
import { ManualClock, startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect } from '../../support/ws';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { HttpReceiver, newWebhookSecret, type Received } from '../../support/webhookReceiver';

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/**
 * A real server delivering to a real HTTP receiver: every request is verified with the
 * `standardwebhooks` package, independently of the server's own signing code.
 */
describe.each(databaseKinds)('webhooks to the marketplace on %s', (kind) => {
  let server: TestServer;
  let receiver: HttpReceiver;
  const secret = newWebhookSecret();
  const opened = closedAfterEach();

  beforeAll(async () => {
    receiver = await HttpReceiver.start();
    server = await startTestServer(kind, {
      env: { WEBHOOK_URL: `${receiver.url}/hooks`, WEBHOOK_SECRET: secret, WEBHOOK_RETRY_FOR: '4s', NOTIFY_UNREAD_AFTER: '1s', WEBHOOK_TIMEOUT: '2s' },
    });
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
    await receiver?.close();
  });
  afterEach(() => {
    receiver.answer = () => ({ status: 200 });
  });

  async function aRoom(): Promise<{ roomId: string; lender: string; borrower: string; postTitle: string }> {
    const lender = unique('lena');
    const borrower = unique('bob');
    const postId = unique('post');
    expect((await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Drill' })).status).toBe(200);
    const res = await as(server.url, tokenFor(borrower)).post('/api/rooms', { postId });
    expect(res.status).toBe(201);
    return { roomId: res.body.room.roomId, lender, borrower, postTitle: 'Drill' };
  }
  const send = async (roomId: string, userId: string, body: string) => {
    const res = await as(server.url, tokenFor(userId)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body });
    expect(res.status).toBe(201);
    return res.body.message as { seq: number; messageId: string };
  };
  const seqsOf = (received: Received[]): number[] => received.map((r) => r.json.data.seq);

  it('signs every delivery the Standard Webhooks way, and a changed byte fails the check', async () => {
    const { roomId, lender, borrower } = await aRoom();
    await send(roomId, borrower, 'Can I pick the drill up tomorrow?');
    await eventually(async () => receiver.of(roomId, 'message.created').length === 1, 15_000, 'the message webhook');
    const [opening] = receiver.of(roomId, 'room.opened');
    const [message] = receiver.of(roomId, 'message.created');
    const verifier = new Webhook(secret);
    for (const delivery of [opening, message]) {
      if (delivery === undefined) throw new Error('a delivery is missing');
      expect(verifier.verify(delivery.body, delivery.headers)).toEqual(delivery.json);
      expect(delivery.headers['webhook-id']).toBe(delivery.json.id);
      expect(delivery.path).toBe('/hooks');
    }
    expect(() => verifier.verify(message!.body.replace('tomorrow', 'tomorrov'), message!.headers)).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(message!.body, message!.headers)).toThrow();
    expect(message!.json).toMatchObject({
      version: 1,
      type: 'message.created',
      eventId: expect.any(String),
      timestamp: expect.any(String),
      data: { roomId, senderId: borrower, recipientId: lender, recipientOnline: false, body: 'Can I pick the drill up tomorrow?', seq: 1, postTitle: 'Drill' },
    });
    expect(opening!.json.data).toMatchObject({ roomId, lenderId: lender, borrowerId: borrower });
  });

  it('says whether the recipient had a live connection when the message was sent', async () => {
    const { roomId, lender, borrower } = await aRoom();
    const lenderSocket = opened(await connect(server.url, lender));
    await eventually(async () => {
      // Presence is written off the connection's path: wait until a message would see it.
      const m = await send(roomId, borrower, 'are you there?');
      await eventually(async () => receiver.of(roomId, 'message.created').some((r) => r.json.data.seq === m.seq), 15_000, 'the webhook');
      return receiver.of(roomId, 'message.created').some((r) => r.json.data.seq === m.seq && r.json.data.recipientOnline === true);
    }, 15_000, 'recipientOnline true');
    lenderSocket.close();
    await eventually(async () => {
      const m = await send(roomId, borrower, 'gone?');
      await eventually(async () => receiver.of(roomId, 'message.created').some((r) => r.json.data.seq === m.seq), 15_000, 'the webhook');
      return receiver.of(roomId, 'message.created').some((r) => r.json.data.seq === m.seq && r.json.data.recipientOnline === false);
    }, 15_000, 'recipientOnline false');
  });

  it("delivers each room's messages in order, while another room's receiver answers slowly", async () => {
    const a = await aRoom();
    const b = await aRoom();
    // Room b's deliveries answer only after a second each; room a must not wait for them.
    receiver.answer = (r) => (r.json?.data?.roomId === b.roomId ? { status: 200, delayMs: 700 } : { status: 200 });
    const sends = [];
    for (let i = 1; i <= 6; i++) {
      sends.push(send(a.roomId, i % 2 === 0 ? a.lender : a.borrower, `a${i}`));
      sends.push(send(b.roomId, b.borrower, `b${i}`));
    }
    await Promise.all(sends);
    await eventually(async () => receiver.of(a.roomId, 'message.created').length === 6, 20_000, "room a's messages");
    // Room b's receiver is still working through its queue, one at a time.
    expect(receiver.of(b.roomId, 'message.created').length).toBeLessThan(6);
    await eventually(async () => receiver.of(b.roomId, 'message.created').length === 6, 20_000, "room b's messages");
    expect(seqsOf(receiver.of(a.roomId, 'message.created'))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seqsOf(receiver.of(b.roomId, 'message.created'))).toEqual([1, 2, 3, 4, 5, 6]);
    // room.opened came before the room's first message.
    const roomA = receiver.of(a.roomId);
    expect(roomA[0]?.json.type).toBe('room.opened');
  });

  it('retries a 500 and a 503 with Retry-After, with the same delivery id, and keeps the room in order', async () => {
    const { roomId, borrower } = await aRoom();
    let failures = 0;
    receiver.answer = (r) => {
      if (r.json?.data?.roomId !== roomId || r.json.type !== 'message.created' || r.json.data.seq !== 1) return { status: 200 };
      failures += 1;
      if (failures === 1) return { status: 500 };
      if (failures === 2) return { status: 503, headers: { 'retry-after': '1' } };
      return { status: 200 };
    };
    const retriedBefore = await metric(server.url, 'chat_webhook_deliveries_total{channel="webhook",outcome="retried"}');
    await send(roomId, borrower, 'one');
    await send(roomId, borrower, 'two');
    await eventually(async () => receiver.of(roomId, 'message.created').length >= 4, 15_000, 'retries and the second message');
    const attempts = receiver.of(roomId, 'message.created');
    expect(seqsOf(attempts)).toEqual([1, 1, 1, 2]);
    expect(new Set(attempts.slice(0, 3).map((r) => r.headers['webhook-id'])).size).toBe(1);
    // Retry-After: 1 was honoured (the third attempt waited at least a second after the 503).
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(950);
    expect(await metric(server.url, 'chat_webhook_deliveries_total{channel="webhook",outcome="retried"}')).toBe(retriedBefore + 2);
  });

  it('retries a delivery whose receiver did not answer within WEBHOOK_TIMEOUT', async () => {
    const { roomId, borrower } = await aRoom();
    let attempts = 0;
    receiver.answer = (r) => (r.json?.data?.roomId === roomId && r.json.type === 'message.created' && ++attempts === 1 ? 'hang' : { status: 200 });
    await send(roomId, borrower, 'are you awake?');
    await eventually(async () => receiver.of(roomId, 'message.created').length === 2, 15_000, 'a second attempt');
    const [first, second] = receiver.of(roomId, 'message.created');
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    // WEBHOOK_TIMEOUT is 2s in this suite: the retry came after the first attempt was given up.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(2_000);
  });

  it('tells the marketplace when a participant blocks the other', async () => {
    const { roomId, lender, borrower } = await aRoom();
    expect((await as(server.url, tokenFor(lender)).post(`/api/rooms/${roomId}/block`)).status).toBe(204);
    await eventually(async () => receiver.of(roomId, 'room.blocked').length === 1, 15_000, 'room.blocked');
    expect(receiver.of(roomId, 'room.blocked')[0]!.json.data).toMatchObject({ roomId, blockerId: lender, blockedId: borrower, lenderId: lender, borrowerId: borrower });
  });

  it('sends a 4xx straight to dead letters, goes on with the room, and replays it on request', async () => {
    const { roomId, borrower } = await aRoom();
    let refuse = true;
    receiver.answer = (r) => (refuse && r.json?.data?.roomId === roomId && r.json.data.seq === 1 ? { status: 422 } : { status: 200 });
    await send(roomId, borrower, 'refused');
    await send(roomId, borrower, 'accepted');
    await eventually(async () => receiver.of(roomId, 'message.created').length === 2, 15_000, 'both attempts');
    expect(seqsOf(receiver.of(roomId, 'message.created'))).toEqual([1, 2]);
    const internal = as(server.url, TEST_INTERNAL_TOKEN);
    const list = await internal.get('/api/internal/webhooks/dead-letters?channel=webhook');
    expect(list.status).toBe(200);
    const dead = list.body.deadLetters.find((d: { roomId: string }) => d.roomId === roomId);
    expect(dead).toMatchObject({ type: 'message.created', attempts: 1, lastStatus: 422, channel: 'webhook', payload: { data: { seq: 1 } } });
    expect((await as(server.url, tokenFor(borrower)).get('/api/internal/webhooks/dead-letters')).status).toBe(401);

    refuse = false;
    const replay = await internal.post(`/api/internal/webhooks/dead-letters/${dead.deliveryId}/replay`);
    expect(replay.status).toBe(202);
    await eventually(async () => receiver.of(roomId, 'message.created').length === 3, 15_000, 'the replay');
    expect(receiver.of(roomId, 'message.created')[2]!.headers['webhook-id']).toBe(dead.deliveryId);
    const after = await internal.get('/api/internal/webhooks/dead-letters');
    expect(after.body.deadLetters.some((d: { deliveryId: string }) => d.deliveryId === dead.deliveryId)).toBe(false);
    expect((await internal.post(`/api/internal/webhooks/dead-letters/${dead.deliveryId}/replay`)).status).toBe(404);
    expect((await internal.post('/api/internal/webhooks/dead-letters/not-a-uuid/replay')).body.error.code).toBe('bad_request');
  });

  it('puts a replayed dead letter back in its place: after the room’s later events already delivered, before one still retrying (docs/webhooks.md)', async () => {
    const { roomId, borrower } = await aRoom();
    // seq 1 refused (a dead letter at once), seq 2 accepted, seq 3 retrying: 503 with
    // Retry-After 2, so its next attempt is at least 2 s away when the replay is asked for.
    let mode: 'refusing' | 'fixed' = 'refusing';
    receiver.answer = (r) => {
      if (r.json?.data?.roomId !== roomId || r.json.type !== 'message.created' || mode === 'fixed') return { status: 200 };
      const seq = r.json.data.seq as number;
      if (seq === 1) return { status: 422 };
      if (seq === 3) return { status: 503, headers: { 'retry-after': '2' } };
      return { status: 200 };
    };
    await send(roomId, borrower, 'one');
    await send(roomId, borrower, 'two');
    await send(roomId, borrower, 'three');
    await eventually(async () => seqsOf(receiver.of(roomId, 'message.created')).includes(3), 15_000, 'the first attempt of seq 3');
    expect(seqsOf(receiver.of(roomId, 'message.created'))).toEqual([1, 2, 3]);
    const internal = as(server.url, TEST_INTERNAL_TOKEN);
    let dead: { deliveryId: string } | undefined;
    await eventually(async () => {
      const list = await internal.get('/api/internal/webhooks/dead-letters?limit=500');
      dead = list.body.deadLetters.find((d: { roomId: string; type: string }) => d.roomId === roomId && d.type === 'message.created');
      return dead !== undefined;
    }, 15_000, 'seq 1 as a dead letter');

    mode = 'fixed';
    const attemptsBefore = receiver.of(roomId, 'message.created').length;
    expect((await internal.post(`/api/internal/webhooks/dead-letters/${dead!.deliveryId}/replay`)).status).toBe(202);
    await eventually(async () => receiver.of(roomId, 'message.created').length >= attemptsBefore + 2, 15_000, 'the replay and the retry');
    const afterReplay = receiver.of(roomId, 'message.created').slice(attemptsBefore);
    // The replay first (with its original webhook-id), then seq 3, which waited behind it.
    expect(seqsOf(afterReplay)).toEqual([1, 3]);
    expect(afterReplay[0]!.headers['webhook-id']).toBe(dead!.deliveryId);
  });

  it('gives up on a receiver that keeps failing once the retry window has passed', async () => {
    const { roomId, borrower } = await aRoom();
    receiver.answer = (r) => (r.json?.data?.roomId === roomId ? { status: 500 } : { status: 200 });
    await send(roomId, borrower, 'never accepted');
    const internal = as(server.url, TEST_INTERNAL_TOKEN);
    let dead: { attempts: number; lastStatus: number; type: string } | undefined;
    await eventually(async () => {
      const list = await internal.get('/api/internal/webhooks/dead-letters?limit=500');
      dead = list.body.deadLetters.find((d: { roomId: string; type: string }) => d.roomId === roomId && d.type === 'message.created');
      return dead !== undefined;
    }, 20_000, 'a dead letter');
    // Given up for the window, not refused at once: a 500 is worth retrying while time is left
    // (how many attempts fit in 4 s depends on the jitter and on how busy the machine is).
    expect(dead!.lastStatus).toBe(500);
    expect((dead as unknown as { lastError: string }).lastError).toMatch(/gave up after \d+ attempts/);
    expect(receiver.of(roomId, 'message.created').length).toBe(dead!.attempts);
    const status = await internal.get('/api/internal/webhooks/status');
    expect(status.body.dead).toBeGreaterThanOrEqual(1);
    expect(await metric(server.url, 'chat_webhook_deliveries_total{channel="webhook",outcome="dead"}')).toBeGreaterThanOrEqual(1);
  });

  it('reminds a user of an unread message once, and again only after they read', async () => {
    const { roomId, lender, borrower } = await aRoom();
    await send(roomId, borrower, 'hello?');
    await send(roomId, borrower, 'still there?');
    const reminders = () => receiver.received.filter((r) => r.json?.type === 'user.unread' && r.json.data.roomId === roomId);
    await eventually(async () => reminders().length === 1, 15_000, 'a reminder');
    expect(reminders()[0]!.json.data).toMatchObject({ userId: lender, roomId, count: 2, oldestUnreadSeq: 1, otherUserId: borrower, postTitle: 'Drill' });
    expect(new Webhook(secret).verify(reminders()[0]!.body, reminders()[0]!.headers)).toMatchObject({ type: 'user.unread', eventId: null });
    // More checks run (one a second); none reminds again while the messages stay unread.
    await twoMoreReminderChecks(server.url, receiver);
    expect(reminders()).toHaveLength(1);
    expect((await as(server.url, tokenFor(lender)).post(`/api/rooms/${roomId}/read`, { upToSeq: 2 })).status).toBeLessThan(300);
    await send(roomId, borrower, 'one more');
    await eventually(async () => reminders().length === 2, 15_000, 'a second reminder');
    expect(reminders()[1]!.json.data).toMatchObject({ count: 1, oldestUnreadSeq: 3 });
    // The borrower read nothing from the lender (who sent nothing): no reminder for them.
    expect(reminders().every((r) => r.json.data.userId === lender)).toBe(true);
  });
});

describe('webhooks from two server processes on one database', () => {
  let first: TestServer;
  let second: TestServer;
  let receiver: HttpReceiver;

  beforeAll(async () => {
    receiver = await HttpReceiver.start();
    const env = { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: newWebhookSecret(), NOTIFY_UNREAD_AFTER: '1s' };
    first = await startTestServer('postgres', { env });
    second = await startTestServer('postgres', { env, database: first.database });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await first?.database.drop();
    await receiver?.close();
  });

  it('sends each event once, in order per room, whichever process took the message, and one unread reminder', async () => {
    const lender = unique('lena');
    const postId = unique('post');
    await as(first.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Kayak' });
    const rooms: Array<{ roomId: string; borrower: string }> = [];
    for (const url of [first.url, second.url]) {
      const borrower = unique('bob');
      rooms.push({ roomId: (await as(url, tokenFor(borrower)).post('/api/rooms', { postId })).body.room.roomId, borrower });
    }
    // Slow answers keep deliveries in flight while both processes look for work.
    receiver.answer = () => ({ status: 200, delayMs: 50 });
    const sends = [];
    for (let i = 0; i < 10; i++) {
      for (const [r, room] of rooms.entries()) {
        const url = (i + r) % 2 === 0 ? first.url : second.url;
        sends.push(as(url, tokenFor(room.borrower)).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: `m${i}` }));
      }
    }
    expect((await Promise.all(sends)).every((res) => res.status === 201)).toBe(true);
    await eventually(async () => rooms.every((room) => receiver.of(room.roomId, 'message.created').length >= 10), 20_000, 'every message');
    // Both processes had the chance to send again; neither did.
    await eventually(async () => (await as(first.url, TEST_INTERNAL_TOKEN).get('/api/internal/webhooks/status')).body.pending === 0, 10_000, 'an empty queue');
    // Both processes check for unread messages every second; the lender is reminded once per room.
    await eventually(async () => rooms.every((room) => receiver.of(room.roomId, 'user.unread').length >= 1), 15_000, 'the reminders');
    await twoMoreReminderChecks(first.url, receiver);
    for (const room of rooms) {
      const deliveries = receiver.of(room.roomId);
      expect(new Set(deliveries.map((d) => d.headers['webhook-id'])).size).toBe(deliveries.length);
      const events = deliveries.filter((d) => d.json.type !== 'user.unread');
      expect(events.map((d) => d.json.type)).toEqual(['room.opened', ...Array(10).fill('message.created')]);
      expect(events.slice(1).map((d) => d.json.data.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(receiver.of(room.roomId, 'user.unread').map((d) => d.json.data)).toEqual([expect.objectContaining({ userId: lender, count: 10 })]);
    }
  });
});

describe('room lifecycle webhooks', () => {
  let server: TestServer;
  let receiver: HttpReceiver;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    receiver = await HttpReceiver.start();
    server = await startTestServer('postgres', {
      clock,
      env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: newWebhookSecret(), EXPIRY_SWEEP_CRON: '* * * * * *', ROOM_EMPTY_TTL: '1h' },
    });
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
    await receiver?.close();
  });

  it('sends room.expired when the sweep expires a room, and room.reopened when the borrower comes back', async () => {
    const lender = unique('lena');
    const borrower = unique('bob');
    const postId = unique('post');
    await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Tent' });
    const roomId = (await as(server.url, tokenFor(borrower)).post('/api/rooms', { postId })).body.room.roomId as string;
    clock.advance(2 * 3_600_000);
    await eventually(async () => receiver.of(roomId, 'room.expired').length === 1, 15_000, 'room.expired');
    expect(receiver.of(roomId, 'room.expired')[0]!.json.data).toMatchObject({ roomId, reason: 'empty', lenderId: lender, borrowerId: borrower });
    expect((await as(server.url, tokenFor(borrower)).post('/api/rooms', { postId })).status).toBeLessThan(300);
    await eventually(async () => receiver.of(roomId, 'room.reopened').length === 1, 15_000, 'room.reopened');
    expect(receiver.of(roomId, 'room.reopened')[0]!.json.data).toMatchObject({ roomId, reopenedBy: borrower });
    expect(receiver.of(roomId).map((d) => d.json.type)).toEqual(['room.opened', 'room.expired', 'room.reopened']);
  });
});

/**
 * A barrier for "no further reminder": two marker rooms, each with an unread message sent
 * after the previous reminder arrived, so each is decided by a later check than the one
 * before; then the queue is empty, so whatever those checks decided has been delivered.
 */
async function twoMoreReminderChecks(url: string, receiver: HttpReceiver): Promise<void> {
  for (let i = 0; i < 2; i += 1) {
    const postId = unique('marker-post');
    const borrower = unique('marker-bob');
    expect((await as(url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: unique('marker-lena'), title: 'Marker' })).status).toBe(200);
    const roomId = (await as(url, tokenFor(borrower)).post('/api/rooms', { postId })).body.room.roomId as string;
    expect((await as(url, tokenFor(borrower)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'marker' })).status).toBe(201);
    await eventually(async () => receiver.of(roomId, 'user.unread').length === 1, 15_000, 'the marker room\'s reminder');
  }
  await eventually(async () => (await as(url, TEST_INTERNAL_TOKEN).get('/api/internal/webhooks/status')).body.pending === 0, 10_000, 'an empty queue');
}
