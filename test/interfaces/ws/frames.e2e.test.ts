import { randomUUID } from 'node:crypto';
import { makeRoomCommands } from '../../../src/application/room/roomCommands';
import { randomIds } from '../../../src/application/ports/ids';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { call, eventually, openRoom, unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect, type Frame, roundTrips, sendAndAck, type TestClient } from '../../support/ws';
import { tokenFor } from '../../support/tokens';

const messageShape = (fields: Partial<Record<string, unknown>>) => ({
  messageId: expect.any(String),
  roomId: expect.any(String),
  seq: expect.any(Number),
  senderId: expect.any(String),
  body: expect.any(String),
  sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
  clientMessageId: expect.any(String),
  kind: 'text',
  hidden: false,
  erased: false,
  safety: [],
  attachments: [],
  ...fields,
});

async function stillOpen(client: TestClient): Promise<void> {
  client.send({ type: 'ping' });
  await client.nextOf('pong');
}

describe('WebSocket frames', () => {
  let server: TestServer;
  const track = closedAfterEach();
  const open = async (userId: string): Promise<TestClient> => track(await connect(server.url, userId));

  beforeAll(async () => {
    server = await startTestServer('postgres', { env: { TYPING_INTERVAL: '1ms' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('acks a send to its connection and pushes it as `message` to every other connection of both participants', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(server.url, lender, borrower);
    const [phone, laptop, lenderPhone, lenderLaptop] = [await open(borrower), await open(borrower), await open(lender), await open(lender)];

    const clientMessageId = randomUUID();
    phone.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'Is it free on Saturday?' });
    const ack = await phone.nextOf('ack');
    expect(ack).toEqual({
      type: 'ack',
      clientMessageId,
      message: messageShape({ roomId: room.roomId, seq: 1, senderId: borrower, body: 'Is it free on Saturday?', clientMessageId }),
    });
    for (const other of [laptop, lenderPhone, lenderLaptop]) {
      expect(await other.nextOf('message')).toEqual({ type: 'message', message: ack.message });
    }
    // A second message, from the laptop: the fan-out delivers in order, so a stray copy of the first would come before it.
    const marker = await sendAndAck(laptop, room.roomId, 'marker');
    await phone.nextOf('message', (f) => f.message.messageId === marker.messageId);
    expect(phone.all('message').map((f) => f.message.messageId)).toEqual([marker.messageId]);
  });

  it('a client told of a message by a `message` frame finds it in the HTTP history moments later, as sent', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(server.url, lender, borrower);
    const [b, l] = [await open(borrower), await open(lender)];
    for (let i = 1; i <= 3; i += 1) {
      b.send({ type: 'send', roomId: room.roomId, clientMessageId: randomUUID(), body: `message ${i}` });
      const { message } = await l.nextOf('message');
      // Live delivery does not wait for the read models (docs/websocket.md): the history follows within the read-model lag.
      let last: Frame | undefined;
      await eventually(async () => {
        const history = await call<{ messages: Frame[] }>(server.url, 'GET', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(lender) });
        expect(history.status).toBe(200);
        last = history.body.messages.at(-1);
        return last?.seq === message.seq;
      }, 2000);
      expect(last).toEqual(message);
    }
  });

  it('answers a retried send with the original message, delivered to the others once', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(server.url, lender, borrower);
    const [b, l] = [await open(borrower), await open(lender)];
    const clientMessageId = randomUUID();
    b.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'once' });
    const first = await b.nextOf('ack');
    b.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'once' });
    const second = await b.nextOf('ack');
    expect(second.message).toEqual(first.message);
    await l.nextOf('message');
    // A later message, delivered in order after anything the retry could have set off.
    const marker = await sendAndAck(b, room.roomId, 'marker');
    await l.nextOf('message', (f) => f.message.messageId === marker.messageId);
    expect(l.all('message').map((f) => f.message.messageId)).toEqual([first.message.messageId, marker.messageId]);
  });

  it('a read goes out as `read` to the connections of both participants; reading nothing new answers only the reader', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(server.url, lender, borrower);
    const [b, l1, l2] = [await open(borrower), await open(lender), await open(lender)];
    await sendAndAck(b, room.roomId, 'one');
    await sendAndAck(b, room.roomId, 'two');
    l1.send({ type: 'read', roomId: room.roomId, upToSeq: 2 });
    const expected = { type: 'read', roomId: room.roomId, userId: lender, upToSeq: 2 };
    for (const client of [l1, l2, b]) expect(await client.nextOf('read')).toEqual(expected);

    l1.send({ type: 'read', roomId: room.roomId, upToSeq: 1 });
    expect(await l1.nextOf('read')).toEqual(expected);
    // A message after it: a read event the second read wrongly recorded would reach both before it.
    const marker = await sendAndAck(b, room.roomId, 'marker');
    await l2.nextOf('message', (f) => f.message.messageId === marker.messageId);
    expect(b.all('read')).toHaveLength(1);
    expect(l2.all('read')).toHaveLength(1);
  });

  it('forwards typing to the other participant only, and stores nothing', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(server.url, lender, borrower);
    const [b1, b2, l1, l2] = [await open(borrower), await open(borrower), await open(lender), await open(lender)];
    b1.send({ type: 'typing', roomId: room.roomId });
    for (const client of [l1, l2]) expect(await client.nextOf('typing')).toEqual({ type: 'typing', roomId: room.roomId, userId: borrower });
    // The lender types back, after b1's signal was published (b1's pong): signals arrive in the order
    // they were published, so a copy of b1's would reach the borrower's connections before it.
    await b1.roundTrip();
    l1.send({ type: 'typing', roomId: room.roomId });
    const back = { type: 'typing', roomId: room.roomId, userId: lender };
    for (const client of [b1, b2]) await client.waitFor((f) => f.type === 'typing' && f.userId === lender);
    expect(b2.all('typing')).toEqual([back]);
    expect(b1.all('typing')).toEqual([back]);
    const events = await call<{ events: Frame[] }>(server.url, 'GET', `/api/audit/rooms/${room.roomId}/events`, { token: tokenFor('auditor-1', { roles: ['auditor'] }) });
    expect(events.status).toBe(200);
    expect(events.body.events.map((e) => e.type)).toEqual(['RoomOpened']);
    const history = await call<{ messages: Frame[] }>(server.url, 'GET', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(lender) });
    expect(history.body.messages).toEqual([]);
  });

  it('answers ping with pong', async () => {
    const client = await open(unique('user'));
    client.send({ type: 'ping' });
    expect(await client.next()).toEqual({ type: 'pong' });
  });

  it.each([
    ['text that is not JSON', '{"type": "send",', null, /not valid JSON/],
    ['JSON that is not an object', '[1,2,3]', null, /JSON object/],
    ['an object without a type', '{"roomId": "r"}', null, /^type:/],
    ['an unknown frame type', '{"type": "dance"}', 'dance', /unknown frame type "dance"/],
    ['a read without upToSeq', '{"type": "read", "roomId": "6f1c1f4e-3d7a-4e0b-9a53-0c2d1f6f2a11"}', 'read', /^upToSeq:/],
    ['a read with a negative upToSeq', '{"type": "read", "roomId": "6f1c1f4e-3d7a-4e0b-9a53-0c2d1f6f2a11", "upToSeq": -1}', 'read', /^upToSeq:/],
    ['a resume with a fractional afterSeq', '{"type": "resume", "roomId": "6f1c1f4e-3d7a-4e0b-9a53-0c2d1f6f2a11", "afterSeq": 1.5}', 'resume', /^afterSeq:/],
    ['a send without a body', '{"type": "send", "roomId": "6f1c1f4e-3d7a-4e0b-9a53-0c2d1f6f2a11", "clientMessageId": "c-1"}', 'c-1', /^body:/],
    ['a typing frame with a numeric roomId', '{"type": "typing", "roomId": 7}', 'typing', /^roomId:/],
    ['an auth frame without a token', '{"type": "auth"}', 'auth', /^token:/],
    ['a __proto__ payload', '{"type": "ping", "__proto__": {"polluted": true}}', null, null],
  ])('answers %s with a bad_request error frame and keeps the socket open', async (_name, text, ref, message) => {
    const client = await open(unique('user'));
    client.send(text);
    if (message === null) {
      expect(await client.next()).toEqual({ type: 'pong' });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      return;
    }
    const error = await client.next();
    expect(error).toEqual({ type: 'error', code: 'bad_request', message: expect.stringMatching(message), ref });
    await stillOpen(client);
  });

  it('answers a binary frame with an error frame and keeps the socket open', async () => {
    const client = await open(unique('user'));
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await client.next()).toEqual({ type: 'error', code: 'bad_request', message: expect.stringMatching(/binary/), ref: null });
    await stillOpen(client);
  });

  it('closes with 1009 on a frame larger than WS_MAX_FRAME_BYTES', async () => {
    const client = await open(unique('user'));
    client.send({ type: 'send', roomId: 'r', clientMessageId: 'c', body: 'x'.repeat(server.config.wsMaxFrameBytes) });
    expect((await client.closed).code).toBe(1009);
  });

  it('maps refused commands to error frames with the contract codes and the frame they answer', async () => {
    const [lender, borrower, stranger] = [unique('lender'), unique('borrower'), unique('stranger')];
    const room = await openRoom(server.url, lender, borrower);
    const [b, s] = [await open(borrower), await open(stranger)];

    b.send({ type: 'send', roomId: room.roomId, clientMessageId: 'empty-1', body: '' });
    expect(await b.nextOf('error')).toEqual({ type: 'error', code: 'bad_request', message: expect.stringMatching(/^body:/), ref: 'empty-1' });
    b.send({ type: 'send', roomId: room.roomId, clientMessageId: 'long-1', body: 'x'.repeat(4001) });
    expect(await b.nextOf('error')).toMatchObject({ code: 'bad_request', ref: 'long-1' });
    b.send({ type: 'read', roomId: room.roomId, upToSeq: 5 });
    expect(await b.nextOf('error')).toEqual({ type: 'error', code: 'bad_request', message: expect.stringMatching(/^upToSeq:/), ref: 'read' });

    s.send({ type: 'send', roomId: room.roomId, clientMessageId: 'nosy-1', body: 'hi' });
    expect(await s.nextOf('error')).toMatchObject({ code: 'not_found', ref: 'nosy-1' });
    for (const frame of [
      { type: 'read', roomId: room.roomId, upToSeq: 0 },
      { type: 'typing', roomId: room.roomId },
      { type: 'resume', roomId: room.roomId, afterSeq: 0 },
    ]) {
      s.send(frame);
      expect(await s.nextOf('error')).toMatchObject({ code: 'not_found', ref: frame.type });
    }
    await stillOpen(b);
    await stillOpen(s);
  });

  it('replays a room on resume, then says resumed with the last seq', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(server.url, lender, borrower);
    const b = await open(borrower);
    const sent: Frame[] = [];
    for (let i = 1; i <= 5; i += 1) sent.push(await sendAndAck(b, room.roomId, `m${i}`));
    const l = await open(lender);
    l.send({ type: 'resume', roomId: room.roomId, afterSeq: 2 });
    const replayed = [await l.nextOf('message'), await l.nextOf('message'), await l.nextOf('message')];
    expect(replayed.map((f) => f.message)).toEqual(sent.slice(2));
    expect(await l.next()).toEqual({ type: 'resumed', roomId: room.roomId, lastSeq: 5 });

    l.send({ type: 'resume', roomId: room.roomId, afterSeq: 5 });
    expect(await l.next()).toEqual({ type: 'resumed', roomId: room.roomId, lastSeq: 5 });
    l.send({ type: 'resume', roomId: room.roomId, afterSeq: 9 });
    expect(await l.next()).toMatchObject({ type: 'error', code: 'bad_request', ref: 'resume' });
  });

  it('tells both participants of room changes with a `room` frame holding their own view', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const l = await open(lender);
    const b = await open(borrower);
    const room = await openRoom(server.url, lender, borrower);
    const opened = await l.nextOf('room');
    expect(opened.room).toMatchObject({ roomId: room.roomId, lenderId: lender, borrowerId: borrower, status: 'open', unreadCount: 0, lastMessage: null });
    expect((await b.nextOf('room')).room.roomId).toBe(room.roomId);

    await sendAndAck(b, room.roomId, 'hello');
    expect((await call(server.url, 'POST', `/api/rooms/${room.roomId}/block`, { token: tokenFor(lender) })).status).toBe(204);
    const blockedView = await l.nextOf('room');
    expect(blockedView.room).toMatchObject({ roomId: room.roomId, unreadCount: 1, lastMessage: expect.objectContaining({ body: 'hello' }) });
    expect((await b.nextOf('room')).room).toMatchObject({ roomId: room.roomId, unreadCount: 0 });
    expect((await call(server.url, 'DELETE', `/api/rooms/${room.roomId}/block`, { token: tokenFor(lender) })).status).toBe(204);
    await l.nextOf('room');
    await b.nextOf('room');

    // Expiry is the sweeper's job; here the use case runs directly on the same store, an hour later.
    const db = await server.database.connect();
    const later = { now: () => new Date(Date.now() + 3_600_000) };
    const commands = makeRoomCommands({ eventStore: new PostgresEventStore(db), clock: later, ids: randomIds });
    expect((await commands.expireRoom(room.roomId, { emptyTtlMs: 1000, idleTtlMs: 1000 }, 'test')).expired).toBe(true);
    expect((await l.nextOf('room')).room).toMatchObject({ roomId: room.roomId, status: 'expired' });
    expect((await b.nextOf('room')).room).toMatchObject({ roomId: room.roomId, status: 'expired' });

    b.send({ type: 'send', roomId: room.roomId, clientMessageId: 'late-1', body: 'still there?' });
    expect(await b.nextOf('error')).toMatchObject({ code: 'room_expired', ref: 'late-1' });
    b.send({ type: 'typing', roomId: room.roomId });
    expect(await b.nextOf('error')).toMatchObject({ code: 'room_expired', ref: 'typing' });

    const post = (await call<{ room: { postId: string } }>(server.url, 'GET', `/api/rooms/${room.roomId}`, { token: tokenFor(borrower) })).body.room.postId;
    expect((await call(server.url, 'POST', '/api/rooms', { token: tokenFor(borrower), json: { postId: post } })).status).toBe(201);
    expect((await l.nextOf('room')).room).toMatchObject({ roomId: room.roomId, status: 'open' });
    expect((await b.nextOf('room')).room).toMatchObject({ roomId: room.roomId, status: 'open' });
  });

  it('while the lender blocks the borrower, nothing the borrower does reaches the lender', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(server.url, lender, borrower);
    const [l, b, b2] = [await open(lender), await open(borrower), await open(borrower)];
    await sendAndAck(l, room.roomId, 'ask me anything');
    await b.nextOf('message');
    expect((await call(server.url, 'POST', `/api/rooms/${room.roomId}/block`, { token: tokenFor(lender) })).status).toBe(204);
    await l.nextOf('room');

    b.send({ type: 'send', roomId: room.roomId, clientMessageId: 'blocked-1', body: 'hey' });
    expect(await b.nextOf('error')).toMatchObject({ code: 'blocked', ref: 'blocked-1' });
    b.send({ type: 'typing', roomId: room.roomId });
    b.send({ type: 'read', roomId: room.roomId, upToSeq: 1 });
    // The borrower's own devices still hear of their read.
    expect(await b2.nextOf('read')).toEqual({ type: 'read', roomId: room.roomId, userId: borrower, upToSeq: 1 });
    await roundTrips(b, l);
    expect(l.frames.filter((f) => ['message', 'typing', 'read'].includes(f.type) && f.message?.senderId !== lender)).toEqual([]);

    // The lender can still write to the borrower.
    const sent = await sendAndAck(l, room.roomId, 'I blocked you');
    expect((await b.nextOf('message')).message).toEqual(sent);

    expect((await call(server.url, 'DELETE', `/api/rooms/${room.roomId}/block`, { token: tokenFor(lender) })).status).toBe(204);
    await l.nextOf('room');
    b.send({ type: 'typing', roomId: room.roomId });
    expect(await l.nextOf('typing')).toEqual({ type: 'typing', roomId: room.roomId, userId: borrower });
    // Typing signals arrive in the order they were published: had the blocked one gone out, it would be here too.
    expect(l.all('typing')).toHaveLength(1);
    const back = await sendAndAck(b, room.roomId, 'thanks');
    expect((await l.nextOf('message')).message).toEqual(back);
  });

  it('an auth frame replaces the token for the same user; a bad one is an error; another user is closed with 1008', async () => {
    const user = unique('user');
    const client = await open(user);
    client.send({ type: 'auth', token: tokenFor(user, { expiresInSeconds: 7200 }) });
    client.send({ type: 'ping' });
    // Frames are answered in order: a pong with no error before it means the token was taken.
    expect(await client.next()).toEqual({ type: 'pong' });
    client.send({ type: 'auth', token: 'not-a-jwt' });
    expect(await client.next()).toEqual({ type: 'error', code: 'unauthorized', message: expect.any(String), ref: 'auth' });
    client.send({ type: 'auth', token: tokenFor(user, { expiresInSeconds: -60 }) });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'unauthorized', ref: 'auth' });
    await stillOpen(client);
    client.send({ type: 'auth', token: tokenFor(unique('someone-else')) });
    expect((await client.closed).code).toBe(1008);
  });
});
