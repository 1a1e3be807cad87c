import { randomUUID } from 'node:crypto';
import { as, openRoom, unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { tokenFor } from '../../support/tokens';
import { closedAfterEach, connect } from '../../support/ws';

/**
 * A recipient is warned under a message that carries contact details: the live frame, the
 * sender's ack, the HTTP answer, the history and the room list all say the same, and
 * SAFETY_HINTS=off leaves every message unmarked.
 */
describe('safety hints on the wire', () => {
  const track = closedAfterEach();

  describe('on (the default)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer('postgres');
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
    });

    it('marks a message with a phone number as contact_info live and in history, and leaves a price unmarked', async () => {
      const lena = unique('lena');
      const bob = unique('bob');
      const room = await openRoom(server.url, lena, bob);
      const bobSocket = track(await connect(server.url, bob));
      const lenaSocket = track(await connect(server.url, lena));

      const scamId = randomUUID();
      lenaSocket.send({ type: 'send', roomId: room.roomId, clientMessageId: scamId, body: '카톡 주세요 010-1234-5678' });
      const ack = await lenaSocket.nextOf('ack', (f) => f.clientMessageId === scamId);
      const live = await bobSocket.nextOf('message', (f) => f.message.clientMessageId === scamId);
      expect(live.message).toMatchObject({ kind: 'text', hidden: false, safety: ['contact_info'], body: '카톡 주세요 010-1234-5678' });
      expect(ack.message.safety).toEqual(['contact_info']);

      const price = await as(server.url, tokenFor(lena)).post(`/api/rooms/${room.roomId}/messages`, {
        clientMessageId: randomUUID(),
        body: '하루 50,000원, 2026-12-07 14:30에 봬요',
      });
      expect(price.status).toBe(201);
      expect(price.body.message).toMatchObject({ kind: 'text', hidden: false, safety: [] });

      const history = await as(server.url, tokenFor(bob)).get(`/api/rooms/${room.roomId}/messages`);
      expect(history.body.messages.map((m: { seq: number; safety: string[] }) => [m.seq, m.safety])).toEqual([
        [1, ['contact_info']],
        [2, []],
      ]);
      expect(history.body.messages[0]).toEqual(live.message);
      const list = await as(server.url, tokenFor(bob)).get('/api/rooms');
      expect(list.body.rooms[0].lastMessage).toMatchObject({ seq: 2, safety: [], kind: 'text' });
    });
  });

  describe('SAFETY_HINTS=off', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer('pglite', { env: { SAFETY_HINTS: 'off' } });
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
    });

    it('leaves every message unmarked, live and in history', async () => {
      const lena = unique('lena');
      const bob = unique('bob');
      const room = await openRoom(server.url, lena, bob);
      const bobSocket = track(await connect(server.url, bob));
      const clientMessageId = randomUUID();
      const sent = await as(server.url, tokenFor(lena)).post(`/api/rooms/${room.roomId}/messages`, {
        clientMessageId,
        body: 'add me on telegram: t.me/lena',
      });
      expect(sent.body.message.safety).toEqual([]);
      const live = await bobSocket.nextOf('message', (f) => f.message.clientMessageId === clientMessageId);
      expect(live.message.safety).toEqual([]);
      const history = await as(server.url, tokenFor(bob)).get(`/api/rooms/${room.roomId}/messages`);
      expect(history.body.messages[0].safety).toEqual([]);
    });
  });
});
