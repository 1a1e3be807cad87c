import { randomUUID } from 'node:crypto';
import webpush from 'web-push';
import { withConnection } from '../../support/databases';
import { as, eventually } from '../../support/http';
import { silentListener, type SilentListener } from '../../support/listeners';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { newBrowserSubscription } from '../../support/webPush';

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/**
 * Server-side request forgery through Web Push, tried as an attacker would on a
 * production server: every endpoint that would make the server call into its own
 * network is refused at subscribe time (400, naming the field), and one stored
 * before these rules is refused again at delivery, without a connection. A listener
 * of our own on the loopback is the witness: nothing may reach it.
 */
describe('push endpoints a user may not point the server at (production)', () => {
  let server: TestServer;
  let internal: SilentListener;

  beforeAll(async () => {
    internal = await silentListener();
    const vapid = webpush.generateVAPIDKeys();
    server = await startTestServer('postgres', {
      env: { NODE_ENV: 'production', VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, PUSH_ALLOWED_HOSTS: 'fcm.googleapis.com,localhost' },
    });
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
    await internal?.close();
  });

  it('refuses loopback, private, link-local, mapped and odd-spelled addresses, credentials, other ports and unknown hosts, and connects nowhere', async () => {
    const p = internal.port;
    const cases: Array<[string, RegExp]> = [
      [`https://127.0.0.1:${p}/admin`, /loopback/],
      ['https://127.0.0.1/admin', /loopback/],
      ['https://[::1]/admin', /loopback/],
      ['https://2130706433/admin', /loopback/],
      ['https://0x7f000001/admin', /loopback/],
      ['https://0177.0.0.1/admin', /loopback/],
      ['https://[::ffff:127.0.0.1]/admin', /ipv4Mapped/],
      ['https://10.0.0.1/admin', /private/],
      ['https://192.168.0.10/admin', /private/],
      ['https://169.254.169.254/latest/meta-data/', /linkLocal/],
      ['https://0.0.0.0/admin', /unspecified/],
      ['https://224.0.0.251/admin', /multicast/],
      // Allowed by PUSH_ALLOWED_HOSTS here, but it resolves to the loopback.
      ['https://localhost/admin', /resolves to a loopback address/],
      ['https://admin:secret@fcm.googleapis.com/fcm/send/x', /credentials/],
      ['https://fcm.googleapis.com:8443/fcm/send/x', /standard https port/],
      ['https://push.attacker.example/x', /push service this server sends to/],
      [`http://127.0.0.1:${p}/admin`, /https/],
    ];
    for (const [endpoint, why] of cases) {
      // A user each: subscribing draws from the user's command budget.
      const res = await as(server.url, tokenFor(unique('mallory'))).post('/api/push/subscriptions', newBrowserSubscription().json(endpoint));
      expect({ endpoint, status: res.status, code: res.body.error?.code, message: res.body.error?.message }).toEqual({
        endpoint,
        status: 400,
        code: 'bad_request',
        message: expect.stringMatching(new RegExp(`^endpoint: .*${why.source}`)),
      });
    }
    const stored = await withConnection(server.database, async (db) => (await db.query(`SELECT 1 FROM push_subscriptions`)).rowCount);
    expect(stored).toBe(0);
    expect(internal.connections()).toBe(0);
  });

  it('refuses at delivery an endpoint stored before the rules: no connection, the subscription removed, the kind of refusal recorded', async () => {
    const lender = unique('lena');
    const borrower = unique('bob');
    const postId = unique('post');
    const endpoint = `https://127.0.0.1:${internal.port}/internal/admin`;
    // As an earlier release stored it (it accepted any https URL).
    await withConnection(server.database, (db) =>
      db.query(`INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth) VALUES ($1, $2, $3, $4)`, [
        endpoint,
        lender,
        newBrowserSubscription().json(endpoint).keys.p256dh,
        newBrowserSubscription().json(endpoint).keys.auth,
      ]),
    );
    await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Ladder' });
    const room = (await as(server.url, tokenFor(borrower)).post('/api/rooms', { postId })).body.room;
    expect((await as(server.url, tokenFor(borrower)).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'hi' })).status).toBe(201);

    const deadLetter = () =>
      withConnection(server.database, async (db) =>
        (await db.query<{ status: string; last_error: string | null }>(`SELECT status, last_error FROM notify_outbox WHERE channel = 'push' AND target = $1`, [endpoint])).rows[0],
      );
    await eventually(async () => (await deadLetter())?.status === 'dead', 15_000, 'the push given up');
    expect((await deadLetter())?.last_error).toBe('refused: the endpoint points at a loopback address, which push may not reach');
    const left = await withConnection(server.database, async (db) => (await db.query(`SELECT 1 FROM push_subscriptions WHERE endpoint = $1`, [endpoint])).rowCount);
    expect(left).toBe(0);
    expect(internal.connections()).toBe(0);
  });
});
