import { call, openRoom, unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { connect, type Frame, sendAndAck, type TestClient } from '../../support/ws';
import { tokenFor } from '../../support/tokens';

/** The core story once more on embedded PGlite (no DATABASE_URL): typing rides on its NOTIFY too. */
describe('WebSocket chat on embedded PGlite', () => {
  let server: TestServer;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer('pglite', { env: { TYPING_INTERVAL: '1ms' } });
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.close();
    await server.close();
    await server.database.drop();
  });

  it('opens, chats, reads, types and resumes', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const lenderPhone = await connect(server.url, lender);
    clients.push(lenderPhone);
    const room = await openRoom(server.url, lender, borrower);
    expect((await lenderPhone.nextOf('room')).room).toMatchObject({ roomId: room.roomId, status: 'open', borrowerId: borrower });
    const borrowerPhone = await connect(server.url, borrower);
    clients.push(borrowerPhone);

    const question = await sendAndAck(borrowerPhone, room.roomId, 'Still available?');
    expect((await lenderPhone.nextOf('message')).message).toEqual(question);
    const history = await call<{ messages: Frame[] }>(server.url, 'GET', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(lender) });
    expect(history.body.messages).toEqual([question]);

    lenderPhone.send({ type: 'typing', roomId: room.roomId });
    expect(await borrowerPhone.nextOf('typing')).toEqual({ type: 'typing', roomId: room.roomId, userId: lender });
    const answer = await sendAndAck(lenderPhone, room.roomId, 'Yes!');
    expect((await borrowerPhone.nextOf('message')).message).toEqual(answer);

    borrowerPhone.send({ type: 'read', roomId: room.roomId, upToSeq: 2 });
    expect(await lenderPhone.nextOf('read')).toEqual({ type: 'read', roomId: room.roomId, userId: borrower, upToSeq: 2 });

    const laptop = await connect(server.url, lender);
    clients.push(laptop);
    laptop.send({ type: 'resume', roomId: room.roomId, afterSeq: 0 });
    expect(await laptop.nextOf('resumed')).toEqual({ type: 'resumed', roomId: room.roomId, lastSeq: 2 });
    expect(laptop.all('message').map((f) => f.message)).toEqual([question, answer]);
  });
});
