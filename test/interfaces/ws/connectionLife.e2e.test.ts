import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { call, eventually, metric, openRoom, unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect, type Frame, sendAndAck } from '../../support/ws';
import { tokenFor } from '../../support/tokens';

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
      startTestServer('postgres', { ws: { pingIntervalMs: 150 } }),
      startTestServer('postgres', { env: { SEND_RATE_LIMIT: '2' }, ws: { maxQueuedFrames: 4 } }),
      startTestServer('postgres', {
        env: { SEND_RATE_LIMIT: '0', WS_MAX_FRAME_BYTES: String(64 * 1024) },
        ws: { maxBufferedBytes: 256 * 1024, closeGraceMs: 30_000 },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([lively, limited, roomy].map(stop));
  });

  it('pings every interval and cuts a peer that does not answer; a peer that answers stays', async () => {
    // Pings are counted from before the socket opens: on a busy machine the first ping can
    // come in the same read as the handshake's answer, and is emitted before connect() resolves.
    let answered = 0;
    const answering = track(await connect(lively.url, unique('user'), { beforeOpen: (ws) => ws.on('ping', () => (answered += 1)) }));
    let pings = 0;
    const silent = track(
      await connect(lively.url, unique('user'), { wsOptions: { autoPong: false }, beforeOpen: (ws) => ws.on('ping', () => (pings += 1)) }),
    );
    const closed = await silent.closed;
    expect(pings).toBeGreaterThanOrEqual(1);
    // Terminated without a closing handshake: the client sees an abnormal closure.
    expect(closed.code).toBe(1006);
    // The answering peer is pinged again and again, and stays.
    const pingsSoFar = answered;
    await eventually(async () => answered >= pingsSoFar + 2, 5_000, 'two more heartbeats');
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
    const overHttp = await call(limited.url, 'POST', `/api/rooms/${room.roomId}/messages`, {
      token: tokenFor(room.borrowerId),
      json: { clientMessageId: randomUUID(), body: 'via http' },
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
    }, 30_000, 'the server to close the stalled reader');
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
    await eventually(async () => (await call<{ messages: Frame[] }>(roomy.url, 'GET', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(room.lenderId) })).body.messages.length === 1);
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

  it('answers each of 300 random malformed frames with its own bad_request error frame, in order; the room is unharmed', async () => {
    const room = await openRoom(roomy.url, unique('lender'), unique('borrower'));
    const client = track(await connect(roomy.url, room.borrowerId));
    const lender = track(await connect(roomy.url, room.lenderId));
    const before = await sendAndAck(client, room.roomId, 'before the noise');
    const from = client.frames.length;

    const frames = fc.sample(malformedFrame(room.roomId), { numRuns: 300, seed: 42 });
    for (const frame of frames) client.send(frame);
    client.ws.send(Buffer.from([0xff, 0x00, 0x7b]), { binary: true });
    await client.roundTrip(30_000);

    // Malformed frames are answered as they come, so the answers line up with the frames, then the pong.
    const errorFor = (ref: string | null) => ({ type: 'error', code: 'bad_request', message: expect.any(String), ref });
    expect(client.frames.slice(from)).toEqual([...frames.map((frame) => errorFor(expectedRef(frame))), errorFor(null), { type: 'pong' }]);

    // Nothing reached the room: the next message is seq 2, the lender sees exactly the two, and so does the history.
    const after = await sendAndAck(client, room.roomId, 'after the noise');
    expect(after.seq).toBe(2);
    await lender.nextOf('message', (f) => f.message.messageId === after.messageId);
    expect(lender.all('message').map((f) => f.message)).toEqual([before, after]);
    await eventually(async () => (await call(roomy.url, 'GET', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(room.lenderId) })).body.messages.length === 2);
    const history = await call<{ messages: Frame[] }>(roomy.url, 'GET', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(room.lenderId) });
    expect(history.body.messages).toEqual([before, after]);
    const fresh = track(await connect(roomy.url, unique('user')));
    await fresh.roundTrip();
  });

  it('closes every connection with 1001 when the server shuts down', async () => {
    const server = await startTestServer('postgres');
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

/** True unless the text is a JSON object (which could be a valid frame). */
const notAnObject = (text: string): boolean => {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value !== 'object' || value === null || Array.isArray(value);
  } catch {
    return true;
  }
};

/**
 * Frames the contract refuses before anything runs: not JSON, not an object, no known
 * type, or a known frame with one field missing or of the wrong kind. Each is answered by
 * exactly one `bad_request` error frame.
 */
function malformedFrame(roomId: string): fc.Arbitrary<string> {
  const notAString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }));
  const notASeq = fc.oneof(fc.integer({ max: -1 }), fc.double({ noInteger: true, noNaN: true }), fc.string(), fc.boolean(), fc.constant(null));
  const notARoomId = fc.oneof(notAString, fc.string().filter((s) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)));
  const valid: Record<string, Record<string, unknown>> = {
    send: { roomId, clientMessageId: 'c-1', body: 'hello' },
    read: { roomId, upToSeq: 1 },
    typing: { roomId },
    resume: { roomId, afterSeq: 0 },
    auth: { token: 'a-token' },
  };
  const wrong: Record<string, fc.Arbitrary<unknown>> = {
    roomId: notARoomId,
    // Not '': an empty clientMessageId is the right shape, refused later by the send itself (with its own ref).
    clientMessageId: notAString,
    body: notAString,
    upToSeq: notASeq,
    afterSeq: notASeq,
    token: fc.oneof(notAString, fc.constant('')),
  };
  const corrupted = fc
    .constantFrom(...Object.keys(valid))
    .chain((type) => fc.tuple(fc.constant(type), fc.constantFrom(...Object.keys(valid[type] as object))))
    .chain(([type, field]) =>
      fc.tuple(fc.constant(type), fc.constant(field), fc.option(wrong[field] as fc.Arbitrary<unknown>, { nil: undefined })),
    )
    .map(([type, field, value]) => {
      const frame: Record<string, unknown> = { type, ...valid[type] };
      if (value === undefined) delete frame[field];
      else frame[field] = value;
      return JSON.stringify(frame);
    });
  const unknownType = fc
    .record(
      { type: fc.oneof(fc.constantFrom('dance', '', '__proto__', 'constructor', 'toString', 'PING', 'Send'), fc.integer(), fc.constant(null)), roomId: fc.constant(roomId) },
      { requiredKeys: [] },
    )
    .map((frame) => JSON.stringify(frame));
  return fc.oneof(fc.string().filter(notAnObject), fc.json().filter(notAnObject), unknownType, corrupted);
}

/** The contract's `ref` of an error frame: the send's clientMessageId when it has a usable one, else the frame's type. */
function expectedRef(text: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { type, clientMessageId } = value as { type?: unknown; clientMessageId?: unknown };
  if (type === 'send' && typeof clientMessageId === 'string' && clientMessageId.length > 0 && clientMessageId.length <= 128) return clientMessageId;
  return typeof type === 'string' && type.length <= 64 ? type : null;
}
