import { randomUUID } from 'node:crypto';
import { withConnection } from '../../support/databases';
import { as, eventually } from '../../support/http';
import { silentListener, type SilentListener } from '../../support/listeners';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { newBrowserSubscription } from '../../support/webPush';
import { HttpReceiver, newWebhookSecret } from '../../support/webhookReceiver';

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

async function aRoom(server: TestServer): Promise<{ roomId: string; lender: string; borrower: string }> {
  const lender = unique('lena');
  const borrower = unique('bob');
  const postId = unique('post');
  await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Ladder' });
  const res = await as(server.url, tokenFor(borrower)).post('/api/rooms', { postId });
  return { roomId: res.body.room.roomId, lender, borrower };
}
const send = (server: TestServer, roomId: string, userId: string, body: string) =>
  as(server.url, tokenFor(userId)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body });
const pendingTo = (server: TestServer, target: string) =>
  withConnection(server.database, async (db) =>
    Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM notify_outbox WHERE status = 'pending' AND target LIKE $1`, [`${target}%`])).rows[0]?.n ?? 0),
  );

/**
 * Delivery slots are shared fairly: a receiver that accepts connections and never
 * answers holds its own share, never everyone's. The dead receivers here are
 * listeners of our own that accept and stay silent; the other deliveries must arrive
 * while the dead ones are still waiting (not after the dead ones' time limits).
 */
describe('one target cannot stall the deliveries of others', () => {
  let receiver: HttpReceiver;
  let dead: SilentListener;
  beforeAll(async () => {
    receiver = await HttpReceiver.start();
    dead = await silentListener();
  });
  afterAll(async () => {
    await receiver?.close();
    await dead?.close();
  });

  describe('push', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer('postgres', {
        env: { WEBHOOK_URL: `${receiver.url}/hooks`, WEBHOOK_SECRET: newWebhookSecret(), WEBHOOK_TIMEOUT: '1m', NOTIFY_UNREAD_AFTER: '1h' },
      });
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
    });

    it("delivers another pair's webhook and another user's push while one user's 40 dead push endpoints are retried", async () => {
      const victim = await aRoom(server);
      const deadEndpoint = `http://127.0.0.1:${dead.port}/push/`;
      // Forty endpoints of one user that accept and never answer, stored as an earlier release allowed (no cap).
      await withConnection(server.database, async (db) => {
        for (let i = 0; i < 40; i += 1) {
          const { keys } = newBrowserSubscription().json('x');
          await db.query(`INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth) VALUES ($1, $2, $3, $4)`, [`${deadEndpoint}${i}`, victim.lender, keys.p256dh, keys.auth]);
        }
      });
      expect((await send(server, victim.roomId, victim.borrower, 'to the dead endpoints')).status).toBe(201);
      await eventually(async () => dead.connections() >= 1, 15_000, 'the dead endpoints being tried');

      // Another pair, whose recipient has a working push endpoint.
      const other = await aRoom(server);
      const browser = newBrowserSubscription();
      const endpoint = `${receiver.url}/push/${unique('ok')}`;
      expect((await as(server.url, tokenFor(other.lender)).post('/api/push/subscriptions', browser.json(endpoint))).status).toBe(201);
      expect((await send(server, other.roomId, other.borrower, 'hello')).status).toBe(201);
      await eventually(async () => receiver.of(other.roomId, 'message.created').length === 1, 10_000, "the other pair's webhook");
      await eventually(async () => receiver.received.some((r) => r.path === new URL(endpoint).pathname), 10_000, "the other user's push");
      // Arrived while the dead ones still wait: not after them.
      expect(await pendingTo(server, deadEndpoint)).toBeGreaterThan(30);
      // And the dead user holds a small share of the push slots, not all of them.
      expect(dead.connections()).toBeLessThanOrEqual(4);
    });

    it("caps a user's subscriptions at 10, the newest kept, and budgets the route", async () => {
      const user = unique('many');
      const api = as(server.url, tokenFor(user));
      const endpoints: string[] = [];
      let refused = 0;
      for (let i = 0; i < 12; i += 1) {
        const endpoint = `${receiver.url}/push/${user}-${i}`;
        // The route draws from the user's command budget (2 a second, bursts of 4): wait it out.
        for (;;) {
          const res = await api.post('/api/push/subscriptions', newBrowserSubscription().json(endpoint));
          if (res.status === 201) break;
          expect({ status: res.status, code: res.body.error.code, retryAfter: res.headers.get('retry-after') }).toEqual({ status: 429, code: 'rate_limited', retryAfter: '1' });
          refused += 1;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        endpoints.push(endpoint);
      }
      expect(refused).toBeGreaterThan(0);
      const kept = await withConnection(server.database, async (db) =>
        (await db.query<{ endpoint: string }>(`SELECT endpoint FROM push_subscriptions WHERE user_id = $1`, [user])).rows.map((r) => r.endpoint).sort(),
      );
      expect(kept).toEqual(endpoints.slice(2).sort());
    });
  });

  describe('webhooks', () => {
    let server: TestServer;
    const deadUrl = () => `http://127.0.0.1:${dead.port}/hooks`;
    beforeAll(async () => {
      // The dead receiver first: its deliveries queue ahead of the live one's. A minute's time limit: long enough that the dead ones are still waiting when the test looks.
      server = await startTestServer('postgres', {
        env: { WEBHOOK_URL: `${deadUrl()},${receiver.url}/live`, WEBHOOK_SECRET: newWebhookSecret(), WEBHOOK_TIMEOUT: '1m', NOTIFY_UNREAD_AFTER: '1h' },
      });
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
    });

    it('delivers to one webhook URL while the other accepts connections and never answers', async () => {
      const rooms = [];
      for (let i = 0; i < 12; i += 1) rooms.push(await aRoom(server));
      for (const room of rooms) expect((await send(server, room.roomId, room.borrower, 'hello')).status).toBe(201);
      for (const room of rooms) {
        await eventually(async () => receiver.of(room.roomId, 'message.created').some((r) => r.path === '/live'), 15_000, `the live URL's delivery for ${room.roomId}`);
      }
      // Every delivery to the live URL arrived while the dead URL's were still waiting.
      expect(await pendingTo(server, deadUrl())).toBeGreaterThanOrEqual(12);
    });
  });
});
