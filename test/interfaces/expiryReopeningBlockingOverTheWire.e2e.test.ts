import { randomUUID } from 'node:crypto';
import { databaseKinds } from '../support/databases';
import { as, eventually } from '../support/http';
import { RecordingLogger } from '../support/logger';
import { ManualClock, startTestServer, type TestServer } from '../support/server';
import { connect, type Frame, type TestClient } from '../support/ws';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../support/tokens';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Expiry, reopening and blocking as clients see them: a real server whose own sweeper
 * runs every second on a clock the test moves, HTTP calls and WebSocket frames.
 */
describe.each(databaseKinds)('expiry, reopening and blocking over HTTP and WebSocket on %s', (kind) => {
  let server: TestServer;
  const clock = new ManualClock();
  const logger = new RecordingLogger();
  const sweeps = () => logger.lines.filter((l) => l.message.startsWith('expiry sweep finished')).length;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    server = await startTestServer(kind, { clock, logger, env: { EXPIRY_SWEEP_CRON: '* * * * * *', ROOM_EMPTY_TTL: '1h', ROOM_IDLE_TTL: '30d' } });
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const user = (id: string) => as(server.url, tokenFor(id));
  const send = (who: string, roomId: string, body: string) =>
    user(who).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body });
  const listed = async (who: string) => (await user(who).get('/api/rooms?limit=100')).body.rooms.map((r: { roomId: string }) => r.roomId);
  const statusOf = async (who: string, roomId: string) => (await user(who).get(`/api/rooms/${roomId}`)).body.room.status;
  const socket = async (who: string) => {
    const client = await connect(server.url, who);
    clients.push(client);
    return client;
  };
  const roomFrame = (client: TestClient, roomId: string, status: string, timeoutMs = 5_000) =>
    client.next((f: Frame) => f.type === 'room' && f.room.roomId === roomId && f.room.status === status, timeoutMs);

  async function roomBetween(lender: string, borrower: string) {
    const postId = fresh('post');
    const put = await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Tent for 4' });
    expect(put.status).toBe(200);
    const opened = await user(borrower).post('/api/rooms', { postId });
    expect(opened.status).toBe(201);
    return { postId, roomId: opened.body.room.roomId as string };
  }

  it('expires an idle room on the sweeper\u2019s schedule, and reopens it with its history when the borrower opens the post again', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { postId, roomId } = await roomBetween(lena, bob);
    const [lenaWs, bobWs] = [await socket(lena), await socket(bob)];
    expect((await send(bob, roomId, 'is the tent free this weekend?')).status).toBe(201);
    expect((await send(lena, roomId, 'yes')).status).toBe(201);

    clock.advance(30 * DAY);

    // Both participants are told, and the room leaves both lists.
    for (const client of [lenaWs, bobWs]) expect((await roomFrame(client, roomId, 'expired')).room).toMatchObject({ roomId, postId });
    expect(await listed(lena)).not.toContain(roomId);
    expect(await listed(bob)).not.toContain(roomId);
    expect(await statusOf(bob, roomId)).toBe('expired');

    // Sends are refused, over HTTP and over the socket.
    const refused = await send(lena, roomId, 'still there?');
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ error: { code: 'room_expired', message: expect.any(String) } });
    const clientMessageId = randomUUID();
    bobWs.send({ type: 'send', roomId, clientMessageId, body: 'hello?' });
    expect(await bobWs.nextOf('error', (f) => f.ref === clientMessageId)).toMatchObject({ code: 'room_expired' });

    // The borrower opens the same post again: the same room, open, with its history.
    clock.advance(DAY);
    const reopened = await user(bob).post('/api/rooms', { postId });
    expect(reopened.status).toBe(201);
    expect(reopened.body.room).toMatchObject({ roomId, status: 'open' });
    expect(reopened.body.messages.map((m: { seq: number; body: string }) => [m.seq, m.body])).toEqual([
      [1, 'is the tent free this weekend?'],
      [2, 'yes'],
    ]);
    for (const client of [lenaWs, bobWs]) await roomFrame(client, roomId, 'open');
    expect(await listed(lena)).toContain(roomId);
    const third = await send(lena, roomId, 'welcome back');
    expect(third.status).toBe(201);
    expect(third.body.message.seq).toBe(3);
    expect((await user(bob).post('/api/rooms', { postId })).status).toBe(200);

    // And the next expiry works the same way.
    clock.advance(30 * DAY);
    for (const client of [lenaWs, bobWs]) await roomFrame(client, roomId, 'expired');
    expect((await send(bob, roomId, 'again?')).status).toBe(409);
    expect((await user(bob).post('/api/rooms', { postId })).status).toBe(201);
    expect((await send(bob, roomId, 'again!')).body.message.seq).toBe(4);
  });

  it('lets the lender reopen an expired room (POST /api/rooms/:roomId/reopen), and no one outside it', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    const bobWs = await socket(bob);
    expect((await send(bob, roomId, 'still available?')).status).toBe(201);
    clock.advance(30 * DAY);
    await roomFrame(bobWs, roomId, 'expired');
    expect((await send(lena, roomId, 'sorry, I was away')).status).toBe(409);

    // A stranger learns nothing: 404, as for an unknown room; the room stays expired.
    const stranger = await user(fresh('eve')).post(`/api/rooms/${roomId}/reopen`);
    expect(stranger.status).toBe(404);
    expect(stranger.body.error.code).toBe('not_found');
    expect(await statusOf(bob, roomId)).toBe('expired');

    const reopened = await user(lena).post(`/api/rooms/${roomId}/reopen`);
    expect(reopened.status).toBe(200);
    expect(reopened.body.room).toMatchObject({ roomId, status: 'open', lenderId: lena, borrowerId: bob });
    await roomFrame(bobWs, roomId, 'open');
    expect(await listed(bob)).toContain(roomId);
    expect((await send(lena, roomId, 'sorry, I was away')).body.message.seq).toBe(2);
    // Reopening an open room changes nothing and answers the same.
    const again = await user(bob).post(`/api/rooms/${roomId}/reopen`);
    expect(again.status).toBe(200);
    expect(again.body.room).toMatchObject({ roomId, status: 'open' });
    expect((await user(bob).post(`/api/rooms/not-a-room/reopen`)).status).toBe(400);
  });

  it('expires a room nobody wrote in once the empty TTL has passed, not before', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    const bobWs = await socket(bob);

    clock.advance(HOUR - 1);
    // Two sweeps finish; the second one began after the clock moved.
    const before = sweeps();
    await eventually(async () => sweeps() >= before + 2, 5_000, 'two sweeps');
    expect(await statusOf(bob, roomId)).toBe('open');

    clock.advance(1);
    await roomFrame(bobWs, roomId, 'expired');
    await eventually(async () => !(await listed(bob)).includes(roomId), 5_000, 'the room to leave the list');
  });

  describe.each([
    { blocker: 'lender', blocked: 'borrower' },
    { blocker: 'borrower', blocked: 'lender' },
  ] as const)('when the $blocker blocks the $blocked', ({ blocker, blocked }) => {
    it('the blocked side\u2019s sends fail with blocked (403, or an error frame) until the block is lifted; the blocker can still write', async () => {
      const ids = { lender: fresh('lena'), borrower: fresh('bob') };
      const { roomId } = await roomBetween(ids.lender, ids.borrower);
      const who = { blocker: ids[blocker], blocked: ids[blocked] };
      const blockedWs = await socket(who.blocked);

      expect((await user(who.blocker).post(`/api/rooms/${roomId}/block`)).status).toBe(204);

      const overHttp = await send(who.blocked, roomId, 'let me explain');
      expect(overHttp.status).toBe(403);
      expect(overHttp.body).toEqual({ error: { code: 'blocked', message: expect.any(String) } });
      const clientMessageId = randomUUID();
      blockedWs.send({ type: 'send', roomId, clientMessageId, body: 'over the socket then' });
      expect(await blockedWs.nextOf('error', (f) => f.ref === clientMessageId)).toMatchObject({ code: 'blocked' });
      // Only the blocker can lift it.
      expect((await user(who.blocked).delete(`/api/rooms/${roomId}/block`)).status).toBe(204);
      expect((await send(who.blocked, roomId, 'please')).status).toBe(403);
      expect((await send(who.blocker, roomId, 'the blocker may write')).status).toBe(201);

      expect((await user(who.blocker).delete(`/api/rooms/${roomId}/block`)).status).toBe(204);
      const after = await send(who.blocked, roomId, 'thanks');
      expect(after.status).toBe(201);
      expect(after.body.message.seq).toBe(2);
      const history = await user(who.blocker).get(`/api/rooms/${roomId}/messages`);
      expect(history.body.messages.map((m: { body: string }) => m.body)).toEqual(['the blocker may write', 'thanks']);
    });
  });
});
