import { randomUUID } from 'node:crypto';
import { withConnection } from '../../support/databases';
import { as, eventually, metric } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect } from '../../support/ws';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { decryptPush, newBrowserSubscription, verifyVapid } from '../../support/webPush';
import { HttpReceiver, newWebhookSecret } from '../../support/webhookReceiver';

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/**
 * Web Push end to end, with a local push service: a real HTTP server that takes the
 * RFC 8030 requests the chat service sends, and a browser's keys to decrypt them
 * (RFC 8291) and to check the VAPID signature (RFC 8292).
 */
describe('Web Push to users with no live connection', () => {
  let server: TestServer;
  let pushService: HttpReceiver;
  const opened = closedAfterEach();

  beforeAll(async () => {
    pushService = await HttpReceiver.start();
    // Webhooks too, to the same local server: a message's webhook says when its push was decided.
    server = await startTestServer('postgres', { env: { WEBHOOK_URL: `${pushService.url}/hooks`, WEBHOOK_SECRET: newWebhookSecret(), NOTIFY_UNREAD_AFTER: '1h' } });
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
    await pushService?.close();
  });

  async function aRoom(): Promise<{ roomId: string; lender: string; borrower: string }> {
    const lender = unique('lena');
    const borrower = unique('bob');
    const postId = unique('post');
    await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Ladder' });
    const res = await as(server.url, tokenFor(borrower)).post('/api/rooms', { postId });
    return { roomId: res.body.room.roomId, lender, borrower };
  }
  const onlineUsers = () =>
    withConnection(server.database, async (db) => (await db.query<{ user_id: string }>(`SELECT user_id FROM presence_users`)).rows.map((r) => r.user_id));
  const send = (roomId: string, userId: string, body: string) =>
    as(server.url, tokenFor(userId)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body });

  it('sends an encrypted, VAPID-signed push with the room and sender, and no body unless configured', async () => {
    const { roomId, lender, borrower } = await aRoom();
    const browser = newBrowserSubscription();
    const endpoint = `${pushService.url}/push/${unique('sub')}`;
    const lenderApi = as(server.url, tokenFor(lender));
    const publicKey = (await lenderApi.get('/api/push/vapid-public-key')).body.publicKey;
    expect(Buffer.from(publicKey, 'base64url')).toHaveLength(65);
    expect((await lenderApi.post('/api/push/subscriptions', browser.json(endpoint))).status).toBe(201);

    expect((await send(roomId, borrower, 'Is the ladder free on Sunday?')).status).toBe(201);
    await eventually(async () => pushService.received.some((r) => r.path === new URL(endpoint).pathname), 15_000, 'a push');
    const push = pushService.received.find((r) => r.path === new URL(endpoint).pathname)!;
    expect(push.headers['content-encoding']).toBe('aes128gcm');
    expect(Number(push.headers.ttl)).toBeGreaterThan(0);
    expect(verifyVapid(push.headers.authorization ?? '', endpoint).publicKey).toBe(publicKey);
    const payload = JSON.parse(decryptPush(push.raw, browser));
    expect(payload).toMatchObject({ type: 'message.created', roomId, senderId: borrower, postTitle: 'Ladder', seq: 1 });
    expect(payload).not.toHaveProperty('body');
    // The ciphertext does not carry the text in the clear.
    expect(push.raw.includes(Buffer.from(borrower))).toBe(false);
  });

  it('pushes only while the user has no live connection', async () => {
    const { roomId, lender, borrower } = await aRoom();
    const browser = newBrowserSubscription();
    const endpoint = `${pushService.url}/push/${unique('sub')}`;
    const path = new URL(endpoint).pathname;
    expect((await as(server.url, tokenFor(lender)).post('/api/push/subscriptions', browser.json(endpoint))).status).toBe(201);
    const pushedSeqs = () => pushService.received.filter((r) => r.path === path).map((r) => JSON.parse(decryptPush(r.raw, browser)).seq as number);
    const socket = opened(await connect(server.url, lender));
    // Presence is written off the connection's path: wait until the lender is seen online.
    await eventually(async () => (await onlineUsers()).includes(lender), 10_000, 'the lender online');
    expect((await send(roomId, borrower, 'while connected')).status).toBe(201);
    // Whether to push is decided when the message is turned into deliveries, with its webhook.
    await eventually(async () => pushService.of(roomId, 'message.created').length === 1, 15_000, 'the webhook of message 1');
    expect(pushService.of(roomId, 'message.created')[0]!.json.data.recipientOnline).toBe(true);
    socket.close();
    await eventually(async () => !(await onlineUsers()).includes(lender), 10_000, 'the lender offline');
    expect((await send(roomId, borrower, 'after closing')).status).toBe(201);
    await eventually(async () => pushedSeqs().length > 0, 15_000, 'a push');
    // Message 1 came while connected (no push); message 2 after (pushed). Queued in order, so 1 would have come first.
    await eventually(async () => pushService.of(roomId, 'message.created').length === 2, 15_000, 'the webhook of message 2');
    expect(pushService.of(roomId, 'message.created').map((r) => r.json.data.recipientOnline)).toEqual([true, false]);
    expect(pushedSeqs()).toEqual([2]);
  });

  it('removes a subscription the push service says is gone (410), and the user can remove their own', async () => {
    const { roomId, lender, borrower } = await aRoom();
    const gone = `${pushService.url}/push/${unique('gone')}`;
    const kept = `${pushService.url}/push/${unique('kept')}`;
    const lenderApi = as(server.url, tokenFor(lender));
    expect((await lenderApi.post('/api/push/subscriptions', newBrowserSubscription().json(gone))).status).toBe(201);
    expect((await lenderApi.post('/api/push/subscriptions', newBrowserSubscription().json(kept))).status).toBe(201);
    pushService.answer = (r) => (r.path === new URL(gone).pathname ? { status: 410 } : { status: 201 });
    const goneBefore = await metric(server.url, 'chat_webhook_deliveries_total{channel="push",outcome="gone"}');
    await send(roomId, borrower, 'hello');
    await eventually(async () => (await metric(server.url, 'chat_webhook_deliveries_total{channel="push",outcome="gone"}')) === goneBefore + 1, 15_000, 'gone');
    const endpoints = () =>
      withConnection(server.database, async (db) => (await db.query<{ endpoint: string }>(`SELECT endpoint FROM push_subscriptions WHERE user_id = $1 ORDER BY endpoint`, [lender])).rows.map((r) => r.endpoint));
    expect(await endpoints()).toEqual([kept]);

    expect((await lenderApi.delete('/api/push/subscriptions', { json: { endpoint: kept } })).status).toBe(204);
    expect(await endpoints()).toEqual([]);
  });

  it('refuses a subscription that is not one, naming the field', async () => {
    const api = as(server.url, tokenFor(unique('eve')));
    const good = newBrowserSubscription().json(`${pushService.url}/push/abc`);
    const cases: Array<[unknown, string]> = [
      [{ ...good, endpoint: 'ftp://push.example.com/x' }, 'endpoint'],
      [{ ...good, endpoint: 'http://push.example.com/x' }, 'endpoint'],
      // Not a push service this server sends to (the browsers' own, by default).
      [{ ...good, endpoint: 'https://push.example.com/x' }, 'endpoint'],
      [{ ...good, keys: { ...good.keys, p256dh: 'abc' } }, 'keys.p256dh'],
      [{ ...good, keys: { ...good.keys, auth: 'not base64 !' } }, 'keys.auth'],
      [{ endpoint: good.endpoint }, 'keys'],
    ];
    for (const [body, field] of cases) {
      const res = await api.post('/api/push/subscriptions', body);
      expect({ status: res.status, code: res.body.error.code, field: res.body.error.message.split(':')[0] }).toEqual({ status: 400, code: 'bad_request', field });
    }
    expect((await api.post('/api/push/subscriptions', good)).status).toBe(201);
    expect((await as(server.url, 'not-a-token').post('/api/push/subscriptions', good)).status).toBe(401);
  });
});
