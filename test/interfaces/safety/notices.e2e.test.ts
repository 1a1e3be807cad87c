import { randomUUID } from 'node:crypto';
import { as, eventually, openRoom, unique } from '../../support/http';
import { ManualClock, startTestServer, type TestServer } from '../../support/server';
import { HOUR, SECOND } from '../../support/time';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { closedAfterEach, connect } from '../../support/ws';

/**
 * The marketplace posts notices into a conversation ("Booking confirmed for Saturday"):
 * a message of kind `notice` from "system", in the room's seq among the participants'
 * messages, live and in history, once per clientNoticeId, refused on an expired room.
 */
describe('marketplace notices', () => {
  const clock = new ManualClock(new Date());
  let server: TestServer;
  const track = closedAfterEach();
  beforeAll(async () => {
    server = await startTestServer('postgres', { clock, env: { EXPIRY_SWEEP_CRON: '* * * * * *', ROOM_EMPTY_TTL: '1h' } });
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });
  const marketplace = () => as(server.url, TEST_INTERNAL_TOKEN);
  const notice = (roomId: string, clientNoticeId: string, text: string) =>
    marketplace().post(`/api/internal/rooms/${roomId}/notices`, { clientNoticeId, text });

  it('delivers a notice live to both participants and keeps it in history, in seq order with their messages, once', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(server.url, lena, bob);
    const lenaSocket = track(await connect(server.url, lena));
    const bobSocket = track(await connect(server.url, bob));
    const sent = await as(server.url, tokenFor(bob)).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'Is it free on Saturday?' });
    expect(sent.status).toBe(201);

    const clientNoticeId = randomUUID();
    const posted = await notice(room.roomId, clientNoticeId, 'Booking confirmed for Saturday');
    expect(posted.status).toBe(201);
    expect(posted.body.message).toMatchObject({
      roomId: room.roomId,
      seq: 2,
      senderId: 'system',
      kind: 'notice',
      body: 'Booking confirmed for Saturday',
      clientMessageId: clientNoticeId,
      hidden: false,
      safety: [],
    });
    for (const socket of [lenaSocket, bobSocket]) {
      const live = await socket.nextOf('message', (f) => f.message.seq === 2);
      expect(live.message).toEqual(posted.body.message);
    }

    // The retry (the marketplace's request timed out) is the same notice, and adds nothing.
    const retry = await notice(room.roomId, clientNoticeId, 'Booking confirmed for Saturday');
    expect(retry.status).toBe(200);
    expect(retry.body.message).toEqual(posted.body.message);
    const after = await as(server.url, tokenFor(lena)).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'See you then' });
    expect(after.body.message.seq).toBe(3);

    const history = await as(server.url, tokenFor(bob)).get(`/api/rooms/${room.roomId}/messages`);
    expect(history.body.messages.map((m: { seq: number; kind: string; senderId: string }) => [m.seq, m.kind, m.senderId])).toEqual([
      [1, 'text', bob],
      [2, 'notice', 'system'],
      [3, 'text', lena],
    ]);
    expect(history.body.messages[1]).toEqual(posted.body.message);
  });

  it('refuses a notice on an expired room like a send (409 room_expired), and takes it once the room is reopened', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(server.url, lena, bob);
    clock.advance(HOUR + SECOND);
    await eventually(async () => (await as(server.url, tokenFor(bob)).get(`/api/rooms/${room.roomId}`)).body.room.status === 'expired', 10_000, 'expiry');

    const refused = await notice(room.roomId, randomUUID(), 'Your booking starts tomorrow');
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('room_expired');
    const history = await as(server.url, tokenFor(bob)).get(`/api/rooms/${room.roomId}/messages`);
    expect(history.body.messages).toEqual([]);

    expect((await as(server.url, tokenFor(bob)).post(`/api/rooms/${room.roomId}/reopen`)).status).toBe(200);
    const posted = await notice(room.roomId, randomUUID(), 'Your booking starts tomorrow');
    expect(posted.status).toBe(201);
    expect(posted.body.message.seq).toBe(1);
  });

  it('answers not_found for an unknown room, bad_request naming a bad field, and 401 without the internal token', async () => {
    const unknown = await notice(randomUUID(), randomUUID(), 'hello');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    const room = await openRoom(server.url, unique('lena'), unique('bob'));
    const empty = await notice(room.roomId, randomUUID(), '');
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/^text/);
    const noId = await marketplace().post(`/api/internal/rooms/${room.roomId}/notices`, { text: 'hello' });
    expect(noId.status).toBe(400);
    expect(noId.body.error.message).toMatch(/clientNoticeId/);
    const asUser = await as(server.url, tokenFor('bob')).post(`/api/internal/rooms/${room.roomId}/notices`, { clientNoticeId: 'x', text: 'hi' });
    expect(asUser.status).toBe(401);
  });
});
