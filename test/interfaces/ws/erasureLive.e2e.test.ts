/**
 * An erasure as the participants live it: the erased user's socket closes with 4003 and
 * their token is refused (HTTP and the WebSocket handshake); the other participant gets
 * `erased` live and reads the messages erased in history, in order, seqs unchanged.
 */
import { as, eventually, openRoom, unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { connect, sendAndAck, type TestClient } from '../../support/ws';

describe('an erasure, live', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    server = await startTestServer('postgres');
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
    await server?.database.drop();
  });

  it('closes the erased user with 4003, refuses their token, and tells the other participant', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(server.url, lena, bob);
    const lenaSocket = await connect(server.url, lena);
    const bobSocket = await connect(server.url, bob);
    clients.push(lenaSocket, bobSocket);
    await sendAndAck(bobSocket, room.roomId, 'is the drill free on Saturday?');
    await sendAndAck(lenaSocket, room.roomId, 'yes, from 9');
    await sendAndAck(bobSocket, room.roomId, 'great, my number is 010-1234');
    await lenaSocket.nextOf('message', (f) => f.message.seq === 3);

    const asked = await as(server.url, TEST_INTERNAL_TOKEN).post(`/api/internal/users/${bob}/erasure`);
    expect(asked.status).toBe(202);

    expect((await bobSocket.closed).code).toBe(4003);
    const erased = await lenaSocket.nextOf('erased', () => true, 15_000);
    expect(erased).toEqual({ type: 'erased', roomId: room.roomId, userId: bob });

    expect((await as(server.url, tokenFor(bob)).get('/api/rooms')).status).toBe(401);
    await expect(connect(server.url, bob)).rejects.toThrow(/401/);

    const history = await as(server.url, tokenFor(lena)).get(`/api/rooms/${room.roomId}/messages`);
    expect(history.body.messages.map((m: { seq: number; senderId: string; body: string; erased: boolean }) => [m.seq, m.senderId, m.body, m.erased])).toEqual([
      [1, bob, '', true],
      [2, lena, 'yes, from 9', false],
      [3, bob, '', true],
    ]);
    // The process finishes; lena's socket stays open and usable.
    await eventually(async () => {
      const read = await as(server.url, TEST_INTERNAL_TOKEN).get(`/api/internal/erasures/${asked.body.erasure.erasureId}`);
      return read.body.erasure.status === 'done';
    }, 60_000, 'the erasure to be done');
    await sendAndAck(lenaSocket, room.roomId, 'hello?');
  }, 120_000);
});
