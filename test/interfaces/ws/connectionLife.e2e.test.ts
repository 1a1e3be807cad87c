import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { TestServer } from '../../support/server';
import { tokenFor } from '../../support/tokens';
import { closedAfterEach, connect, eventually, http, metric, openRoom, sendAndAck, startWsServer, unique, type Frame } from './wsSupport';

const stop = async (server: TestServer): Promise<void> => {
  await server.close();
  await server.database.drop();
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WebSocket connection life', () => {
  /** Short heartbeat; tokens and pings are measured in hundreds of milliseconds here. */
  let lively: TestServer;
  /** SEND_RATE_LIMIT=2 (burst 4) and a small frame queue. */
  let limited: TestServer;
  /** No rate limit, 64 KiB frames, a small unsent-buffer limit and a long close grace. */
  let roomy: TestServer;
  const track = closedAfterEach();

  beforeAll(async () => {
    [lively, limited, roomy] = await Promise.all([
      startWsServer('postgres', { ws: { pingIntervalMs: 150 } }),
      startWsServer('postgres', { env: { SEND_RATE_LIMIT: '2' }, ws: { maxQueuedFrames: 4 } }),
      startWsServer('postgres', {
        env: { SEND_RATE_LIMIT: '0', WS_MAX_FRAME_BYTES: String(64 * 1024) },
        ws: { maxBufferedBytes: 256 * 1024, closeGraceMs: 30_000 },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([lively, limited, roomy].map(stop));
  });

  it('pings every interval and cuts a peer that does not answer; a peer that answers stays', async () => {
    const answering = track(await connect(lively.url, unique('user')));
    const silent = track(await connect(lively.url, unique('user'), { wsOptions: { autoPong: false } }));
    let pings = 0;
    silent.ws.on('ping', () => (pings += 1));
    const closed = await silent.closed;
    expect(pings).toBeGreaterThanOrEqual(1);
    // Terminated without a closing handshake: the client sees an abnormal closure.
    expect(closed.code).toBe(1006);
    await sleep(400);
    answering.send({ type: 'ping' });
    expect(await answering.nextOf('pong')).toEqual({ type: 'pong' });
  });

  it('closes with 4001 when the token expires without an auth frame', async () => {
    const started = Date.now();
    const client = track(await connect(lively.url, unique('user'), { token: tokenFor(unique('user'), { expiresInSeconds: 1 }) }));
    const closed = await client.closed;
    expect(closed.code).toBe(4001);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('an auth frame with a fresh token keeps the connection past the old exp', async () => {
    const user = unique('user');
    const client = track(await connect(lively.url, user, { token: tokenFor(user, { expiresInSeconds: 1 }) }));
    client.send({ type: 'auth', token: tokenFor(user, { expiresInSeconds: 3600 }) });
    await sleep(1600);
    client.send({ type: 'ping' });
    expect(await client.nextOf('pong')).toEqual({ type: 'pong' });
    expect(client.all('error')).toEqual([]);
  });

  it('refuses sends over the rate limit with rate_limited, then closes with 4029 if the client keeps going', async () => {
    const room = await openRoom(limited.url, unique('lender'), unique('borrower'));
    const client = track(await connect(limited.url, room.borrowerId));
    const ids = Array.from({ length: 30 }, () => randomUUID());
    for (const clientMessageId of ids) client.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'spam' });
    const closed = await client.closed;
    expect(closed.code).toBe(4029);
    // Burst of 2 × 2 accepted, then refusals naming each send, until 4 × 2 strikes are passed.
    const refused = client.all('error');
    expect(refused.length).toBeGreaterThanOrEqual(9);
    expect(refused[0]).toEqual({ type: 'error', code: 'rate_limited', message: expect.any(String), ref: ids[4] });
    expect(refused.every((f) => f.code === 'rate_limited')).toBe(true);
    expect(client.all('ack').length).toBeLessThanOrEqual(4);
  });

  it('shares one bucket between all connections of a user in the process, and with HTTP sends', async () => {
    const room = await openRoom(limited.url, unique('lender'), unique('borrower'));
    const [phone, laptop] = [track(await connect(limited.url, room.borrowerId)), track(await connect(limited.url, room.borrowerId))];
    for (let i = 0; i < 4; i += 1) phone.send({ type: 'send', roomId: room.roomId, clientMessageId: randomUUID(), body: `m${i}` });
    const clientMessageId = randomUUID();
    laptop.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'one more' });
    expect(await laptop.nextOf('error')).toMatchObject({ code: 'rate_limited', ref: clientMessageId });
    // Sending over HTTP draws on the same budget.
    const overHttp = await http(limited.url, 'POST', `/api/rooms/${room.roomId}/messages`, {
      token: tokenFor(room.borrowerId),
      body: { clientMessageId: randomUUID(), body: 'via http' },
    });
    expect(overHttp.status).toBe(429);
    // The limit refills: a second later the user may send again.
    await sleep(600);
    expect((await sendAndAck(laptop, room.roomId, 'later')).body).toBe('later');
  });

  it('closes with 1008 when a client piles up more frames than the server handles', async () => {
    const room = await openRoom(limited.url, unique('lender'), unique('borrower'));
    const client = track(await connect(limited.url, room.borrowerId));
    for (let i = 0; i < 50; i += 1) client.send({ type: 'resume', roomId: room.roomId, afterSeq: 0 });
    expect((await client.closed).code).toBe(1008);
  });

  it('closes with 4008 a connection that stops reading while frames pile up, instead of buffering without end', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const [big, other] = [await openRoom(roomy.url, lender, borrower), await openRoom(roomy.url, lender, borrower)];
    const writer = track(await connect(roomy.url, borrower));
    const body = '😀'.repeat(4000); // 4000 characters, 16 000 bytes
    for (let i = 0; i < 40; i += 1) await sendAndAck(writer, big.roomId, body);

    const slow = track(await connect(roomy.url, lender));
    slow.ws.pause();
    // Each resume asks for ~650 kB; the kernel's socket buffers take some megabytes, then the replay waits for the reader.
    for (let i = 0; i < 60; i += 1) slow.send({ type: 'resume', roomId: big.roomId, afterSeq: 0 });
    const closes = () => metric(roomy.url, 'chat_ws_server_closes_total{code="4008"}');
    const before = await closes();
    // Live messages for the stalled reader go to its unsent buffer until it passes the limit.
    await eventually(async () => {
      writer.send({ type: 'send', roomId: other.roomId, clientMessageId: randomUUID(), body });
      return (await closes()) > before;
    }, 30_000, 50);
    slow.ws.resume();
    expect((await slow.closed).code).toBe(4008);
    writer.send({ type: 'ping' });
    await writer.nextOf('pong');
  });

  it('closes with 1011 when a resume breaks off on a server fault, and the server carries on', async () => {
    const room = await openRoom(roomy.url, unique('lender'), unique('borrower'));
    const writer = track(await connect(roomy.url, room.borrowerId));
    await sendAndAck(writer, room.roomId, 'hello');
    // The fault is to hit the replay itself, so the read models first hold what was pushed live.
    await eventually(async () => (await http<{ messages: Frame[] }>(roomy.url, 'GET', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(room.lenderId) })).body.messages.length === 1);
    const db = await roomy.database.connect();
    await db.query('ALTER TABLE rm_messages RENAME TO rm_messages_away');
    try {
      const reader = track(await connect(roomy.url, room.lenderId));
      reader.send({ type: 'resume', roomId: room.roomId, afterSeq: 0 });
      expect((await reader.closed).code).toBe(1011);
    } finally {
      await db.query('ALTER TABLE rm_messages_away RENAME TO rm_messages');
    }
    const again = track(await connect(roomy.url, room.lenderId));
    again.send({ type: 'resume', roomId: room.roomId, afterSeq: 0 });
    expect((await again.nextOf('message')).message.body).toBe('hello');
  });

  it('survives whatever a client sends: random frames get error frames, never a crash', async () => {
    const room = await openRoom(roomy.url, unique('lender'), unique('borrower'));
    const client = track(await connect(roomy.url, room.borrowerId));
    const types = ['send', 'read', 'typing', 'resume', 'auth', 'ping', 'dance', '', '__proto__', 'constructor'];
    const value = fc.oneof(fc.jsonValue(), fc.constant(room.roomId), fc.integer(), fc.string(), fc.constant(null));
    const frames = fc.sample(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.record(
          { type: fc.constantFrom(...types), roomId: value, clientMessageId: value, body: value, upToSeq: value, afterSeq: value, token: value },
          { requiredKeys: ['type'] },
        ).map((frame) => JSON.stringify(frame)),
      ),
      { numRuns: 300, seed: 42 },
    );
    for (const frame of frames) client.send(frame);
    client.ws.send(Buffer.from([0xff, 0x00, 0x7b]), { binary: true });
    client.send({ type: 'ping' });
    await client.nextOf('pong', () => true, 30_000);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    const fresh = track(await connect(roomy.url, unique('user')));
    fresh.send({ type: 'ping' });
    await fresh.nextOf('pong');
  });

  it('closes every connection with 1001 when the server shuts down', async () => {
    const server = await startWsServer('postgres');
    try {
      const client = await connect(server.url, unique('user'));
      const closing = server.close();
      expect((await client.closed).code).toBe(1001);
      await closing;
    } finally {
      await stop(server);
    }
  });
});
