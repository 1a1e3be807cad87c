/**
 * The SDK's ChatClient against a fake server (test/client/fakeServer.ts): its connection
 * state machine, request ids that match every answer to its frame, and per-room refusals
 * — a refused read retried, a refused resume retried for its room only, a refused send
 * paused in its room only — with time driven by jest's fake clock.
 */
import { ChatClient, type ChatEvents, type OutgoingMessage, type StateChange } from '../../client/sdk/src';
import { aMessage, aToken, FakeServer } from './fakeServer';

const ME = 'lena';

function setUp(options: { backoff?: { initialMs: number; maxMs: number } } = {}) {
  const server = new FakeServer(ME);
  const client = new ChatClient({
    baseUrl: 'http://chat.test',
    getToken: async () => aToken(ME),
    WebSocket: server.WebSocket,
    fetch: (() => Promise.reject(new Error('no HTTP in these tests'))) as unknown as typeof fetch,
    network: null,
    refreshBeforeExpiryMs: null,
    heartbeatMs: 60_000,
    backoff: options.backoff ?? { initialMs: 100, maxMs: 400 },
  });
  const seen = { states: [] as StateChange[], errors: [] as Array<ChatEvents['error']>, outbox: [] as OutgoingMessage[], messages: [] as Array<ChatEvents['message']> };
  client.on('state', (s) => {
    // Every change is emitted, and what is emitted is what the client reports.
    expect(client.state).toEqual(s);
    seen.states.push(s);
  });
  client.on('error', (e) => seen.errors.push(e));
  client.on('outbox', (o) => seen.outbox.push(o));
  client.on('message', (m) => seen.messages.push(m));
  return { server, client, seen };
}

/** Lets promises and timers due within `ms` run. */
const tick = (ms = 0) => jest.advanceTimersByTimeAsync(ms);

describe('ChatClient against a fake server', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('emits every state change once, in order, through a lost connection and back', async () => {
    const { server, client, seen } = setUp();
    client.connect();
    await tick();
    expect(seen.states.map((s) => s.state)).toEqual(['connecting', 'online']);

    server.current.drop(1011);
    await tick();
    expect(seen.states.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, closeCode: 1011 });
    expect(seen.states.at(-1)?.retryInMs).toEqual(expect.any(Number));
    await tick(500);
    expect(seen.states.at(-1)).toMatchObject({ state: 'online', attempt: 1, retryInMs: null, closeCode: null });
    // The attempt count is forgotten once the connection has held for a while: a change too.
    await tick(5_000);
    expect(seen.states.at(-1)).toMatchObject({ state: 'online', attempt: 0 });
    expect(server.sockets).toHaveLength(2);
    // No two consecutive events are the same.
    for (let i = 1; i < seen.states.length; i += 1) expect(seen.states[i]).not.toEqual(seen.states[i - 1]);
    client.close();
    expect(seen.states.at(-1)).toMatchObject({ state: 'closed' });
  });

  it('stops for good on 4003 (account erased) and stays closed after 1008 until connect()', async () => {
    const { server, client, seen } = setUp();
    client.connect();
    await tick();
    server.current.drop(1008);
    await tick(10_000);
    expect(seen.states.at(-1)).toMatchObject({ state: 'closed', closeCode: 1008 });
    expect(server.sockets).toHaveLength(1);

    client.connect();
    await tick();
    expect(client.state.state).toBe('online');
    server.current.drop(4003);
    await tick(60_000);
    expect(seen.states.at(-1)).toMatchObject({ state: 'erased', closeCode: 4003 });
    client.connect();
    await tick(10_000);
    expect(server.sockets).toHaveLength(2);
    expect(client.state.state).toBe('erased');
  });

  it('gives every frame it sends an id of its own', async () => {
    const { server, client } = setUp();
    client.follow('room-a', 0);
    client.connect();
    await tick();
    client.send('room-a', 'hello');
    client.typing('room-a');
    await client.markRead('room-a', 1);
    await tick();
    const frames = server.current.received;
    expect(frames.map((f) => f.type)).toEqual(['resume', 'ping', 'send', 'typing', 'read']);
    const ids = frames.map((f) => f.id);
    expect(ids.every((id) => typeof id === 'string' && id.length >= 1 && id.length <= 64)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sends a refused read again (rate, overload) until done, and drops one refused for good', async () => {
    const { server, client, seen } = setUp();
    let refuse: string | null = 'rate_limited';
    server.answers.read = (socket, frame) => socket.push(refuse === null ? { type: 'done', ref: frame.id } : { type: 'error', code: refuse, message: 'no', ref: frame.id });
    client.connect();
    await tick();

    await client.markRead('room-a', 3);
    await tick();
    expect(server.sent('read')).toHaveLength(1);
    await tick(1_000);
    expect(server.sent('read')).toHaveLength(2);
    refuse = null;
    await tick(2_000);
    expect(server.sent('read').map((f) => [f.roomId, f.upToSeq])).toEqual([
      ['room-a', 3],
      ['room-a', 3],
      ['room-a', 3],
    ]);
    await tick(30_000);
    expect(server.sent('read')).toHaveLength(3);

    // Refused for good: reported, not sent again.
    refuse = 'not_found';
    await client.markRead('room-b', 1);
    await tick(30_000);
    expect(server.sent('read').filter((f) => f.roomId === 'room-b')).toHaveLength(1);
    expect(seen.errors.at(-1)).toMatchObject({ code: 'not_found', ref: server.sent('read').at(-1)?.id, temporary: false });
    expect(seen.errors[0]).toMatchObject({ code: 'rate_limited', temporary: true });
  });

  it('asks again for the resume of only the room whose resume was refused', async () => {
    const { server, client } = setUp();
    let refused = 0;
    server.answers.resume = (socket, frame) => {
      if (frame.roomId === 'room-a' && refused === 0) {
        refused += 1;
        socket.push({ type: 'error', code: 'unavailable', message: 'read models behind', ref: frame.id });
        return;
      }
      socket.push({ type: 'resumed', roomId: frame.roomId, lastSeq: frame.afterSeq, ref: frame.id });
    };
    client.follow('room-a', 4);
    client.follow('room-b', 7);
    client.follow('room-c', 0);
    client.connect();
    await tick();
    expect(server.sent('resume').map((f) => f.roomId)).toEqual(['room-a', 'room-b', 'room-c']);
    await tick(2_000);
    expect(server.sent('resume').map((f) => [f.roomId, f.afterSeq])).toEqual([
      ['room-a', 4],
      ['room-b', 7],
      ['room-c', 0],
      ['room-a', 4],
    ]);
    await tick(30_000);
    expect(server.sent('resume')).toHaveLength(4);
  });

  it("matches a refused send to its room by ref: that room pauses and sends it again, others go on; a permanent refusal fails it", async () => {
    const { server, client, seen } = setUp();
    const refusals = new Map<string, string>();
    server.answers.send = (socket, frame) => {
      const code = refusals.get(frame.clientMessageId);
      if (code !== undefined) {
        refusals.delete(frame.clientMessageId);
        // The ref is the frame's id: the clientMessageId is not needed to find the message.
        socket.push({ type: 'error', code, message: 'refused', ref: frame.id });
        return;
      }
      socket.push({ type: 'ack', clientMessageId: frame.clientMessageId, message: server.store(frame), ref: frame.id });
    };
    client.connect();
    await tick();
    const a1 = client.send('room-a', 'a1');
    refusals.set(a1.clientMessageId, 'rate_limited');
    const a2 = client.send('room-a', 'a2');
    const b1 = client.send('room-b', 'b1');
    await tick();
    // room-b is not held up by room-a's refusal; room-a's second message waits behind its first.
    const status = (id: string) => seen.outbox.filter((o) => o.clientMessageId === id).at(-1)?.status;
    expect([status(a1.clientMessageId), status(a2.clientMessageId), status(b1.clientMessageId)]).toEqual(['pending', 'pending', 'sent']);
    await tick(1_000);
    expect([status(a1.clientMessageId), status(a2.clientMessageId)]).toEqual(['sent', 'sent']);
    expect(server.sent('send').map((f) => f.body)).toEqual(['a1', 'b1', 'a1', 'a2']);
    expect(seen.messages.filter((m) => m.roomId === 'room-a').map((m) => m.body)).toEqual(['a1', 'a2']);

    const blocked = client.send('room-b', 'b2');
    refusals.set(blocked.clientMessageId, 'blocked');
    await tick();
    expect(seen.outbox.at(-1)).toMatchObject({ clientMessageId: blocked.clientMessageId, status: 'failed', error: { code: 'blocked' } });
    // A send error is the message's, not an app-level error.
    expect(seen.errors).toEqual([]);
  });

  it('sends again, after a reconnect, what was on the wire when the socket went; each room resumed from where it is', async () => {
    const { server, client, seen } = setUp();
    server.answers.send = () => undefined; // never answered on the first socket
    client.connect();
    await tick();
    server.current.push({ type: 'message', message: aMessage('room-a', 1, 'bob') });
    const item = client.send('room-a', 'are you there?');
    await tick();
    server.current.drop(1006);
    server.answers.send = (socket, frame) =>
      socket.push({ type: 'ack', clientMessageId: frame.clientMessageId, message: aMessage('room-a', 2, ME, frame.clientMessageId, frame.body), ref: frame.id });
    await tick(1_000);
    expect(server.sockets).toHaveLength(2);
    expect(server.sockets[1]?.received.map((f) => f.type)).toEqual(['resume', 'ping', 'send']);
    expect(server.sockets[1]?.sent('resume')[0]).toMatchObject({ roomId: 'room-a', afterSeq: 1 });
    expect(server.sent('send').map((f) => f.clientMessageId)).toEqual([item.clientMessageId, item.clientMessageId]);
    expect(seen.outbox.at(-1)).toMatchObject({ clientMessageId: item.clientMessageId, status: 'sent' });
    expect(seen.messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it('close() ends every room timer: nothing is sent or opened afterwards', async () => {
    const { server, client } = setUp();
    server.answers.read = (socket, frame) => socket.push({ type: 'error', code: 'rate_limited', message: 'no', ref: frame.id });
    server.answers.send = (socket, frame) => socket.push({ type: 'error', code: 'unavailable', message: 'busy', ref: frame.id });
    client.connect();
    await tick();
    await client.markRead('room-a', 1);
    client.send('room-b', 'hello');
    await tick();
    client.close();
    const sentBefore = server.current.received.length;
    await tick(120_000);
    expect(server.sockets).toHaveLength(1);
    expect(server.current.received.length).toBe(sentBefore);
    expect(client.unsent().map((o) => o.status)).toEqual(['pending']);
  });
});
