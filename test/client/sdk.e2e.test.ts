/**
 * The client SDK (client/sdk) against a real server process on PostgreSQL: killed with
 * SIGKILL and restarted, tokens that expire, and concurrent senders. What is asserted is
 * what an app built on the SDK would show: each room's messages once each, in seq order,
 * and every message typed delivered exactly once.
 */
import WebSocket from 'ws';
import { ChatClient, type ChatClientOptions, type Message, type OutgoingMessage, type StateChange, type WebSocketConstructor } from '../../client/sdk/src';
import { createTestDatabase, type TestDatabase } from '../support/databases';
import { as, eventually, unique } from '../support/http';
import { spawnServer, stopServer, type ServerProcess } from '../support/serverProcess';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../support/tokens';

/** One SDK client and everything it handed to the app. */
interface Watched {
  client: ChatClient;
  messages: Message[];
  outbox: OutgoingMessage[];
  states: StateChange[];
  tokensIssued: () => number;
}

function watch(baseUrl: string, userId: string, options: Partial<ChatClientOptions> & { tokenSeconds?: number } = {}): Watched {
  let issued = 0;
  const client = new ChatClient({
    baseUrl,
    getToken: async () => {
      issued += 1;
      return tokenFor(userId, { expiresInSeconds: options.tokenSeconds ?? 3600 });
    },
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff: { initialMs: 200, maxMs: 1_000 },
    heartbeatMs: 2_000,
    network: null,
    ...options,
  });
  const watched: Watched = { client, messages: [], outbox: [], states: [], tokensIssued: () => issued };
  client.on('message', (m) => watched.messages.push(m));
  client.on('outbox', (o) => watched.outbox.push(o));
  client.on('state', (s) => watched.states.push(s));
  return watched;
}

const online = (w: Watched) => eventually(async () => w.client.state.state === 'online', 20_000, 'the client to be online');
const seqsOf = (w: Watched, roomId: string) => w.messages.filter((m) => m.roomId === roomId).map((m) => m.seq);
const bodiesOf = (w: Watched, roomId: string) => w.messages.filter((m) => m.roomId === roomId).map((m) => m.body);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('the client SDK against a real server process', () => {
  let database: TestDatabase;
  let server: ServerProcess | null = null;
  const clients: Watched[] = [];
  const client = (baseUrl: string, userId: string, options: Parameters<typeof watch>[2] = {}) => {
    const w = watch(baseUrl, userId, options);
    clients.push(w);
    w.client.connect();
    return w;
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterEach(async () => {
    for (const w of clients.splice(0)) w.client.close();
    if (server !== null) await stopServer(server);
    server = null;
  });
  afterAll(async () => {
    await database?.drop();
  });

  async function roomOn(baseUrl: string, lender: string, borrower: Watched) {
    const postId = unique('post');
    const put = await as(baseUrl, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Cordless drill' });
    expect(put.status).toBe(200);
    const opened = await borrower.client.openRoom(postId);
    expect(opened.created).toBe(true);
    return opened.room.roomId;
  }

  it('after the server is killed (-9) and restarted, hands over every message once, in order, and the outbox delivers once', async () => {
    server = await spawnServer(database);
    const port = new URL(server.url).port;
    const lena = unique('lena');
    const bob = unique('bob');
    const bobApp = client(server.url, bob);
    const lenaApp = client(server.url, lena);
    const roomId = await roomOn(server.url, lena, bobApp);
    lenaApp.client.follow(roomId, 0);
    await Promise.all([online(bobApp), online(lenaApp)]);

    bobApp.client.send(roomId, 'is the drill free on Saturday?');
    await eventually(async () => seqsOf(lenaApp, roomId).length === 1, 10_000, 'lena to get the first message');
    lenaApp.client.send(roomId, '네, 토요일 괜찮아요 👍');
    await eventually(async () => seqsOf(bobApp, roomId).length === 2, 10_000, 'bob to get the answer');

    server.child.kill('SIGKILL');
    await server.exited;
    await eventually(async () => bobApp.client.state.state === 'reconnecting', 10_000, 'bob to notice');

    // Typed while the service is down: queued, pending.
    const queued = [bobApp.client.send(roomId, 'great, 10 am?'), bobApp.client.send(roomId, 'I can bring it back by 6 🚲')];
    expect(queued.map((q) => q.status)).toEqual(['pending', 'pending']);
    const lenaQueued = lenaApp.client.send(roomId, 'see you then');

    server = await spawnServer(database, { PORT: port });
    // Someone writes over HTTP right after the restart, whether or not the clients are back yet.
    const overHttp = await as(server.url, tokenFor(lena)).post(`/api/rooms/${roomId}/messages`, {
      clientMessageId: unique('cm'),
      body: 'sent over HTTP after the restart',
    });
    expect(overHttp.status).toBe(201);

    await Promise.all([online(bobApp), online(lenaApp)]);
    await eventually(async () => seqsOf(bobApp, roomId).length >= 6 && seqsOf(lenaApp, roomId).length >= 6, 20_000, 'everything to arrive');
    // One message more: a room's messages arrive in seq order, so a stray duplicate would come before it.
    const marker = await as(server.url, tokenFor(lena)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: unique('cm'), body: 'marker' });
    expect(marker.status).toBe(201);
    await eventually(async () => [bobApp, lenaApp].every((app) => bodiesOf(app, roomId).includes('marker')), 20_000, 'the marker');

    for (const app of [bobApp, lenaApp]) {
      expect(seqsOf(app, roomId)).toEqual(range(1, 7));
      expect(new Set(bodiesOf(app, roomId))).toEqual(
        new Set([
          'is the drill free on Saturday?',
          '네, 토요일 괜찮아요 👍',
          'great, 10 am?',
          'I can bring it back by 6 🚲',
          'see you then',
          'sent over HTTP after the restart',
          'marker',
        ]),
      );
    }
    // The two queued messages keep the order they were typed in.
    const bobBodies = bodiesOf(bobApp, roomId);
    expect(bobBodies.indexOf('great, 10 am?')).toBeLessThan(bobBodies.indexOf('I can bring it back by 6 🚲'));
    // Each queued message settled as sent exactly once, and nothing is left unsent.
    for (const item of [...queued, lenaQueued]) {
      const owner = item === lenaQueued ? lenaApp : bobApp;
      const settled = owner.outbox.filter((o) => o.clientMessageId === item.clientMessageId && o.status === 'sent');
      expect(settled).toHaveLength(1);
      expect(settled[0]?.message?.body).toBe(item.body);
    }
    expect(bobApp.client.unsent()).toEqual([]);
    // The server's history agrees: seven messages, none twice.
    const history = await as(server.url, tokenFor(bob)).get(`/api/rooms/${roomId}/messages`);
    expect(history.body.messages.map((m: Message) => m.seq)).toEqual(range(1, 7));
    expect(new Set(history.body.messages.map((m: Message) => m.body)).size).toBe(7);
  }, 120_000);

  it('refreshes a short-lived token over the open socket before it expires: no disconnect, still live', async () => {
    server = await spawnServer(database);
    const lena = unique('lena');
    const bob = unique('bob');
    const bobApp = client(server.url, bob, { tokenSeconds: 4, refreshBeforeExpiryMs: 2_000 });
    const lenaApp = client(server.url, lena);
    const roomId = await roomOn(server.url, lena, bobApp);
    lenaApp.client.follow(roomId, 0);
    await Promise.all([online(bobApp), online(lenaApp)]);

    // Past the expiry of the first two tokens (4 s each, refreshed 2 s early): the fourth has been fetched.
    await eventually(async () => bobApp.tokensIssued() >= 4, 15_000, 'three token refreshes');
    lenaApp.client.send(roomId, 'still there?');
    await eventually(async () => bodiesOf(bobApp, roomId).includes('still there?'), 5_000, 'the live message');

    expect(bobApp.tokensIssued()).toBeGreaterThanOrEqual(3);
    expect(bobApp.states.map((s) => s.state)).toEqual(['connecting', 'online']);
  }, 60_000);

  it('on 4001 (the token expired on the socket) gets a new token, reconnects and resumes what it missed', async () => {
    server = await spawnServer(database);
    const lena = unique('lena');
    const bob = unique('bob');
    const bobApp = client(server.url, bob, { tokenSeconds: 3, refreshBeforeExpiryMs: null });
    const roomId = await roomOn(server.url, lena, bobApp);
    await online(bobApp);
    const lenaHttp = as(server.url, tokenFor(lena));
    const send = async (body: string) =>
      expect((await lenaHttp.post(`/api/rooms/${roomId}/messages`, { clientMessageId: unique('cm'), body })).status).toBe(201);
    await send('one');

    await eventually(async () => bobApp.states.some((s) => s.closeCode === 4001), 10_000, 'the 4001 close');
    await send('two');
    await eventually(async () => bobApp.client.state.state === 'online', 10_000, 'bob back online');
    await send('three');
    await eventually(async () => bodiesOf(bobApp, roomId).length === 3, 10_000, 'all three messages');
    expect(bodiesOf(bobApp, roomId)).toEqual(['one', 'two', 'three']);
    expect(bobApp.tokensIssued()).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('with both sides and a second device sending at once, every app sees one gap-free sequence, in order', async () => {
    server = await spawnServer(database);
    const lena = unique('lena');
    const bob = unique('bob');
    const bobPhone = client(server.url, bob);
    const bobLaptop = client(server.url, bob);
    const lenaApp = client(server.url, lena);
    const roomId = await roomOn(server.url, lena, bobPhone);
    for (const w of [bobLaptop, lenaApp]) w.client.follow(roomId, 0);
    await Promise.all([bobPhone, bobLaptop, lenaApp].map(online));

    const perSender = 25;
    for (let i = 0; i < perSender; i += 1) {
      bobPhone.client.send(roomId, `phone ${i}`);
      bobLaptop.client.send(roomId, `laptop ${i}`);
      lenaApp.client.send(roomId, `lena ${i}`);
    }
    const total = 3 * perSender;
    await eventually(async () => [bobPhone, bobLaptop, lenaApp].every((w) => seqsOf(w, roomId).length >= total), 30_000, 'every message');
    // One message more, once every device has all of them: a stray duplicate would come before it.
    lenaApp.client.send(roomId, 'marker');
    await eventually(async () => [bobPhone, bobLaptop, lenaApp].every((w) => bodiesOf(w, roomId).includes('marker')), 30_000, 'the marker');

    const reference = bodiesOf(lenaApp, roomId);
    for (const w of [bobPhone, bobLaptop, lenaApp]) {
      expect(seqsOf(w, roomId)).toEqual(range(1, total + 1));
      // The same order everywhere: the room's order, not each device's.
      expect(bodiesOf(w, roomId)).toEqual(reference);
      expect(w.client.unsent()).toEqual([]);
    }
    // Each sender's own messages keep the order they were sent in.
    for (const prefix of ['phone', 'laptop', 'lena']) {
      expect(reference.filter((b) => b.startsWith(`${prefix} `))).toEqual(range(0, perSender - 1).map((i) => `${prefix} ${i}`));
    }
  }, 90_000);

  it('retries rate-limited messages with the same clientMessageId until each is in, once, in the order typed', async () => {
    server = await spawnServer(database, { SEND_RATE_LIMIT: '2' });
    const lena = unique('lena');
    const bob = unique('bob');
    const bobApp = client(server.url, bob, { backoff: { initialMs: 300, maxMs: 2_000 } });
    const roomId = await roomOn(server.url, lena, bobApp);
    await online(bobApp);
    const sent = range(1, 8).map((i) => bobApp.client.send(roomId, `burst ${i}`));
    await eventually(async () => bobApp.client.unsent().length === 0, 30_000, 'the outbox to drain');
    expect(seqsOf(bobApp, roomId)).toEqual(range(1, 8));
    // Refused ones were retried in place: the room holds them in the order they were typed.
    expect(bodiesOf(bobApp, roomId)).toEqual(sent.map((s) => s.body));
    expect(bobApp.outbox.filter((o) => o.status === 'failed')).toEqual([]);
  }, 60_000);

  it('does not fight the server over the per-user connection cap: the device pushed out with 1008 stays closed', async () => {
    server = await spawnServer(database, { WS_MAX_CONNECTIONS_PER_USER: '1' });
    const bob = unique('bob');
    const oldDevice = client(server.url, bob);
    await online(oldDevice);
    const newDevice = client(server.url, bob);
    await online(newDevice);
    await eventually(async () => oldDevice.client.state.state === 'closed', 10_000, 'the old device to be closed');
    expect(oldDevice.client.state.closeCode).toBe(1008);
    // Neither comes back to push the other out.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(oldDevice.client.state.state).toBe('closed');
    expect(newDevice.states.map((s) => s.state)).toEqual(['connecting', 'online']);
    // The app may offer to reconnect: then this one is in, and the other goes.
    oldDevice.client.connect();
    await online(oldDevice);
    await eventually(async () => newDevice.client.state.state === 'closed', 10_000, 'the other device to be closed');
  }, 60_000);
});
