import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config';
import { start, type RunningServer } from '../../src/main';
import { createTestDatabase, type TestDatabase } from '../support/databases';
import { call, eventually, metric, openRoom, unique } from '../support/http';
import { startTestServer, testEnv, type TestServer } from '../support/server';
import { closedAfterEach, connect, roundTrips, sendAndAck, type Frame, type TestClient, wsUrl } from '../support/ws';
import { tokenFor } from '../support/tokens';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Per-user budgets (docs/limits.md) as a user meets them: over HTTP and the WebSocket,
 * on real servers with their default budgets unless a test says otherwise.
 */
describe('per-user budgets', () => {
  let server: TestServer;
  const track = closedAfterEach();
  const open = async (userId: string): Promise<TestClient> => track(await connect(server.url, userId));

  /**
   * Typing signals travel over PostgreSQL NOTIFY, in the order they were published: a signal
   * from someone else to `lenderId`, published after the ones under test, arrives after them.
   */
  async function typingMarker(lenderId: string, watcher: TestClient): Promise<void> {
    const room = await openRoom(server.url, lenderId, unique('marker'));
    const marker = await open(room.borrowerId);
    marker.send({ type: 'typing', roomId: room.roomId });
    await watcher.waitFor((f) => f.type === 'typing' && f.roomId === room.roomId);
  }

  beforeAll(async () => {
    // The defaults, but typing at 1 a second (bursts of 2), so a few rooms show the typing budget.
    server = await startTestServer('postgres', { env: { TYPING_RATE_LIMIT: '1' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('stops a block/unblock flood after the command burst; the other user gets a room frame only for what went through', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const other = await open(room.borrowerId);
    // The lender has not spent any command yet (the borrower opened the room). All at once, as a script would.
    const startedAt = Date.now();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${server.url}/api/rooms/${room.roomId}/block`, {
          method: i % 2 === 0 ? 'POST' : 'DELETE',
          headers: { authorization: `Bearer ${tokenFor(room.lenderId)}` },
        }),
      ),
    );
    const seconds = (Date.now() - startedAt) / 1000;
    const done = responses.filter((r) => r.status === 204).length;
    const refused = responses.filter((r) => r.status === 429);
    // COMMAND_RATE_LIMIT 2 a second, bursts of 4.
    expect(done).toBeGreaterThanOrEqual(4);
    expect(done).toBeLessThanOrEqual(4 + Math.ceil(seconds * 2));
    expect(refused).toHaveLength(20 - done);
    for (const response of refused) {
      expect(response.headers.get('retry-after')).toBe('1');
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error).toEqual({ code: 'rate_limited', message: expect.stringMatching(/commands \(open, block/) });
    }
    // A message after the flood: the fan-out keeps the room's order, so every room frame the flood set off comes before it.
    const marker = await call(server.url, 'POST', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(room.lenderId), json: { clientMessageId: randomUUID(), body: 'after the flood' } });
    expect(marker.status).toBe(201);
    await other.nextOf('message', (f) => f.message.messageId === marker.body.message.messageId);
    expect(other.all('room').length).toBeLessThanOrEqual(done);
  });

  it('stops one user opening room after room; another user is not held back', async () => {
    const borrower = unique('borrower');
    const lender = unique('lender');
    const posts = Array.from({ length: 10 }, () => unique('post'));
    for (const postId of posts) {
      await call(server.url, 'PUT', `/api/internal/posts/${postId}`, { token: 'test-internal-token-0123456789', json: { ownerId: lender, title: 'Drill' } });
    }
    const startedAt = Date.now();
    const statuses = await Promise.all(posts.map(async (postId) => (await call(server.url, 'POST', '/api/rooms', { token: tokenFor(borrower), json: { postId } })).status));
    const seconds = (Date.now() - startedAt) / 1000;
    const opened = statuses.filter((s) => s === 201).length;
    expect(opened).toBeGreaterThanOrEqual(4);
    expect(opened).toBeLessThanOrEqual(4 + Math.ceil(seconds * 2));
    expect(statuses.filter((s) => s === 429)).toHaveLength(10 - opened);
    // Someone else opens a room at the same moment as usual.
    await openRoom(server.url, unique('lender'), unique('borrower'));
  });

  it('answers read and resume frames past their budgets with rate_limited, the socket open', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const client = await open(room.borrowerId);
    await sendAndAck(client, room.roomId, 'hello');
    // READ_RATE_LIMIT 10 (bursts of 20), RESUME_RATE_LIMIT 20 (bursts of 40).
    for (let i = 0; i < 30; i += 1) client.send({ type: 'read', roomId: room.roomId, upToSeq: 1 });
    const readRefusal = await client.nextOf('error', (f) => f.ref === 'read');
    expect(readRefusal).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/read marks/) });
    for (let i = 0; i < 50; i += 1) client.send({ type: 'resume', roomId: room.roomId, afterSeq: 0 });
    const resumeRefusal = await client.waitFor((f) => f.type === 'error' && f.ref === 'resume');
    expect(resumeRefusal).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/resumes/) });
    // Frames are handled in order: by the pong, every resume let through has been answered.
    await client.roundTrip();
    const resumed = client.all('resumed').length;
    expect(resumed).toBeGreaterThanOrEqual(40);
    expect(resumed).toBeLessThan(50);
    expect(client.all('error').filter((f) => f.ref === 'resume')).toHaveLength(50 - resumed);
  });

  it('forwards one typing signal per user and room a second, however many connections the user types from', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const lender = await open(room.lenderId);
    const devices = await Promise.all(Array.from({ length: 8 }, () => open(room.borrowerId)));
    for (let round = 0; round < 3; round += 1) for (const device of devices) device.send({ type: 'typing', roomId: room.roomId });
    await roundTrips(...devices);
    await typingMarker(room.lenderId, lender);
    expect(lender.all('typing').filter((f) => f.roomId === room.roomId)).toEqual([{ type: 'typing', roomId: room.roomId, userId: room.borrowerId }]);
    // A second later the user may signal again: the window itself is what is tested, so this waits it out.
    await sleep(1000);
    devices[0]?.send({ type: 'typing', roomId: room.roomId });
    await lender.waitFor((f) => f.type === 'typing' && f.roomId === room.roomId && lender.all('typing').filter((t) => t.roomId === room.roomId).length === 2);
  });

  it('caps typing over all of a user\'s rooms by TYPING_RATE_LIMIT', async () => {
    const lender = unique('lender');
    const borrower = unique('borrower');
    const rooms = [];
    for (let i = 0; i < 4; i += 1) rooms.push(await openRoom(server.url, lender, borrower));
    const watcher = await open(lender);
    const typist = await open(borrower);
    // Each room's first signal passes the per-room interval; the user's typing budget (bursts of 2) takes two of them.
    for (let round = 0; round < 5; round += 1) for (const room of rooms) typist.send({ type: 'typing', roomId: room.roomId });
    await roundTrips(typist);
    await typingMarker(lender, watcher);
    expect(watcher.all('typing').filter((f) => f.userId === borrower)).toHaveLength(2);
  });
});

describe('WebSocket connection caps', () => {
  let server: TestServer;
  const track = closedAfterEach();

  beforeAll(async () => {
    server = await startTestServer('postgres', { env: { WS_MAX_CONNECTIONS_PER_USER: '2', WS_MAX_CONNECTIONS: '4' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('closes a user\'s oldest connection (1008) when a new one passes WS_MAX_CONNECTIONS_PER_USER', async () => {
    const user = unique('user');
    const oldest = track(await connect(server.url, user));
    const middle = track(await connect(server.url, user));
    const newest = track(await connect(server.url, user));
    const closed = await oldest.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/too many connections/);
    for (const client of [middle, newest]) {
      client.send({ type: 'ping' });
      await client.nextOf('pong');
    }
  });

  it('refuses handshakes past WS_MAX_CONNECTIONS with 503 unavailable and Retry-After, and takes them again once there is room', async () => {
    const openConnections = () => metric(server.url, 'chat_ws_connections');
    await eventually(async () => (await openConnections()) === 0, 5_000, "the previous test's connections to close");
    const held = [];
    for (let i = 0; i < 4; i += 1) held.push(track(await connect(server.url, unique('user'))));
    const refused = await new Promise<{ status: number; retryAfter: unknown; body: string }>((resolve, reject) => {
      const ws = new WebSocket(wsUrl(server.url), ['chat.v1', tokenFor(unique('user'))]);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
      });
      ws.once('open', () => reject(new Error('accepted past the cap')));
      ws.on('error', () => undefined);
    });
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBeDefined();
    expect(JSON.parse(refused.body)).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });

    held[0]?.close();
    await held[0]?.closed;
    await eventually(async () => (await openConnections()) === 3, 5_000, 'the server to let the connection go');
    const again = track(await connect(server.url, unique('user')));
    again.send({ type: 'ping' });
    await again.nextOf('pong');
  });
});

describe('SEND_RATE_LIMIT across processes', () => {
  let database: TestDatabase;
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const config = loadConfig(testEnv(database, { SEND_RATE_LIMIT: '2' }));
    // Two servers on one database, each with its own buckets in memory: a user behind a load balancer.
    a = await start(config);
    b = await start(config);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await database.drop();
  });

  it('holds one budget for a user whose sends reach two processes', async () => {
    const room = await openRoom(a.url, unique('lender'), unique('borrower'));
    const token = tokenFor(room.borrowerId);
    const startedAt = Date.now();
    // At once, as a client retrying on two connections would; odd ones to process b.
    const statuses = await Promise.all(
      Array.from({ length: 16 }, async (_, i) =>
        (await call((i % 2 === 0 ? a : b).url, 'POST', `/api/rooms/${room.roomId}/messages`, { token, json: { clientMessageId: randomUUID(), body: `m${i}` } })).status,
      ),
    );
    const seconds = (Date.now() - startedAt) / 1000;
    const accepted = statuses.filter((s) => s === 201).length;
    // One bucket: a burst of 4 plus 2 a second while the loop ran; two per-process buckets would give 8 and more.
    expect(accepted).toBeGreaterThanOrEqual(4);
    expect(accepted).toBeLessThanOrEqual(4 + Math.ceil(seconds * 2));
    expect(accepted).toBeLessThan(8);
    expect(statuses.filter((s) => s === 429).length).toBe(16 - accepted);
  });
});

describe('the default send budget (10 a second) across processes', () => {
  let database: TestDatabase;
  let a: RunningServer;
  let b: RunningServer;
  const track = closedAfterEach();

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const config = loadConfig(testEnv(database));
    a = await start(config);
    b = await start(config);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await database.drop();
  });

  /** The answer to one send: its ack, or an error frame naming it. */
  const answerTo = (client: TestClient, clientMessageId: string): Promise<Frame> =>
    client.waitFor((f) => (f.type === 'ack' && f.clientMessageId === clientMessageId) || (f.type === 'error' && f.ref === clientMessageId), 15_000);

  it('never refuses a user paced under the limit, and refuses one over it with rate_limited, whichever process each send reaches', async () => {
    const paced = await openRoom(a.url, unique('lender'), unique('paced'));
    const flood = await openRoom(a.url, unique('lender'), unique('flood'));
    const pacedOn = [track(await connect(a.url, paced.borrowerId)), track(await connect(b.url, paced.borrowerId))];
    const floodOn = [track(await connect(a.url, flood.borrowerId)), track(await connect(b.url, flood.borrowerId))];

    // The flood: 60 sends at once, half to each process.
    const startedAt = Date.now();
    const floodIds = Array.from({ length: 60 }, () => randomUUID());
    floodIds.forEach((clientMessageId, i) => floodOn[i % 2]?.send({ type: 'send', roomId: flood.roomId, clientMessageId, body: `flood ${i}` }));
    let floodSeconds = 0;
    const floodAnswers = Promise.all(floodIds.map((id, i) => answerTo(floodOn[i % 2] as TestClient, id))).then((answers) => {
      floodSeconds = (Date.now() - startedAt) / 1000;
      return answers;
    });

    // Meanwhile a person at 8 a second at most, from both processes in turn: 36 sends, more
    // than the burst (20) and all that the two processes may hold unspent (2 × 4) together.
    for (let i = 0; i < 36; i += 1) {
      const client = pacedOn[i % 2] as TestClient;
      const clientMessageId = randomUUID();
      client.send({ type: 'send', roomId: paced.roomId, clientMessageId, body: `paced ${i}` });
      expect(await answerTo(client, clientMessageId)).toMatchObject({ type: 'ack', clientMessageId });
      await sleep(125);
    }

    const answers = await floodAnswers;
    const accepted = answers.filter((f) => f.type === 'ack').length;
    const refused = answers.filter((f) => f.type === 'error');
    expect(accepted + refused.length).toBe(60);
    expect(refused.length).toBeGreaterThan(0);
    for (const frame of refused) expect(frame).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/at most 10 a second/) });
    // One bucket: the burst of 20, what the two processes may hold (2 × 4), and the refill while the flood was answered.
    expect(accepted).toBeLessThanOrEqual(20 + 8 + Math.ceil(floodSeconds * 10));
    expect(accepted).toBeGreaterThanOrEqual(20 - 8);
  });
});
