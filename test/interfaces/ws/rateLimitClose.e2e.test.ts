import { randomUUID } from 'node:crypto';
import { call, openRoom, unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { tokenFor } from '../../support/tokens';
import { connect, type Frame } from '../../support/ws';

/**
 * The 4029 close: a client that floods sends is cut off, but only after every send it
 * made has been answered, so it can tell exactly which of them landed.
 */
describe('closing a flooding connection with 4029', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('postgres', { env: { SEND_RATE_LIMIT: '2' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('answers every send made before the close, and the acked ones are exactly what the room holds', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const client = await connect(server.url, room.borrowerId);
    const ids = Array.from({ length: 40 }, () => randomUUID());
    // In one go: the accepted sends' commands are still running when the limit closes the connection.
    for (const clientMessageId of ids) client.send({ type: 'send', roomId: room.roomId, clientMessageId, body: `flood ${clientMessageId}` });
    const closed = await client.closed;
    expect(closed.code).toBe(4029);

    const answerOf = new Map<string, Frame>();
    for (const frame of client.frames) {
      const ref = frame.type === 'ack' ? frame.clientMessageId : frame.type === 'error' ? frame.ref : undefined;
      expect(answerOf.has(ref)).toBe(false);
      answerOf.set(ref, frame);
    }
    expect([...answerOf.keys()].sort()).toEqual([...ids].sort());
    const acked = ids.filter((id) => answerOf.get(id)?.type === 'ack');
    // The burst (2 × SEND_RATE_LIMIT) went through (or, on an overloaded machine, was refused
    // as `unavailable`, nothing stored); every other send was refused as rate limited.
    expect(ids.slice(0, 4).map((id) => answerOf.get(id)?.type === 'ack' || answerOf.get(id)?.code === 'unavailable')).toEqual([true, true, true, true]);
    expect(acked.length).toBeGreaterThan(0);
    expect(ids.slice(4).map((id) => answerOf.get(id)?.code)).toEqual(ids.slice(4).map(() => 'rate_limited'));

    // A write answers once the read models hold it, so after this one they hold every earlier send too.
    const barrier = await call(server.url, 'POST', `/api/rooms/${room.roomId}/messages`, {
      token: tokenFor(room.lenderId),
      json: { clientMessageId: 'after-the-close', body: 'are you there?' },
    });
    expect(barrier.status).toBe(201);
    const history = await call<{ messages: Array<{ clientMessageId: string }> }>(server.url, 'GET', `/api/rooms/${room.roomId}/messages`, {
      token: tokenFor(room.borrowerId),
    });
    expect(history.body.messages.map((m) => m.clientMessageId)).toEqual([...acked, 'after-the-close']);
  });
});
