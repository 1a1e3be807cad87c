import { randomUUID } from 'node:crypto';
import { call, eventually, openRoom, unique, type Room } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect, type Frame, type TestClient } from '../../support/ws';
import { tokenFor } from '../../support/tokens';

/**
 * A server flooded with more sends than it takes on (docs/limits.md, "Overload"): what a
 * client can rely on. The process takes at most 4 sends in hand here, so the flood is
 * refused in part whatever the machine's speed; nothing is timed.
 */
describe('a flood of sends past what the server takes on', () => {
  let server: TestServer;
  const track = closedAfterEach();

  beforeAll(async () => {
    server = await startTestServer('postgres', { ws: { maxSendsInHand: 4 } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  interface Sent {
    clientMessageId: string;
    by: TestClient;
    room: Room;
  }

  /** Every answer a send got on its connection: acks naming it, errors with it as ref. */
  const answersTo = (send: Sent): Frame[] =>
    send.by.frames.filter((f) => (f.type === 'ack' && f.clientMessageId === send.clientMessageId) || (f.type === 'error' && f.ref === send.clientMessageId));

  it('answers every send once, at once when refused, and delivers what it acked, in order, losing nothing', async () => {
    const rooms = await Promise.all(Array.from({ length: 6 }, () => openRoom(server.url, unique('lender'), unique('borrower'))));
    const clients = new Map<string, TestClient>();
    for (const room of rooms) {
      clients.set(room.lenderId, track(await connect(server.url, room.lenderId)));
      clients.set(room.borrowerId, track(await connect(server.url, room.borrowerId)));
    }

    // Both sides of every room send 15 at once, without waiting for answers: 180 sends, within
    // each user's send burst (20, with one more to come) but far past the 4 sends the process
    // takes in hand.
    const sent: Sent[] = [];
    for (let i = 0; i < 15; i += 1) {
      for (const room of rooms) {
        for (const userId of [room.lenderId, room.borrowerId]) {
          const by = clients.get(userId) as TestClient;
          const clientMessageId = randomUUID();
          by.send({ type: 'send', roomId: room.roomId, clientMessageId, body: `${userId} ${i}` });
          sent.push({ clientMessageId, by, room });
        }
      }
    }
    for (const send of sent) await send.by.waitFor(() => answersTo(send).length > 0, 30_000);
    // One more send per connection, answered after everything sent before it in its room:
    // a second answer to any send of the flood would have come by then.
    for (const room of rooms) {
      for (const userId of [room.lenderId, room.borrowerId]) {
        const by = clients.get(userId) as TestClient;
        const clientMessageId = randomUUID();
        by.send({ type: 'send', roomId: room.roomId, clientMessageId, body: 'last' });
        await by.waitFor((f) => f.type === 'ack' && f.clientMessageId === clientMessageId, 30_000);
      }
    }

    const answers = sent.map((send) => answersTo(send));
    expect(answers.filter((a) => a.length !== 1)).toEqual([]);
    const refusals = answers.flat().filter((f) => f.type === 'error');
    for (const refusal of refusals) expect(['unavailable', 'rate_limited']).toContain(refusal.code);
    // The process refused part of the flood for overload, not only for the users' budgets.
    expect(refusals.filter((f) => f.code === 'unavailable').length).toBeGreaterThan(0);
    const acked = sent.filter((_, i) => answers[i]?.[0]?.type === 'ack');
    expect(acked.length).toBeGreaterThan(0);

    for (const room of rooms) {
      const ackedHere = acked.filter((s) => s.room === room);
      const seqOf = new Map(ackedHere.map((s) => [s.clientMessageId, (answersTo(s)[0] as Frame).message.seq as number]));
      // Each sender's acked sends got seqs in the order they were sent.
      for (const userId of [room.lenderId, room.borrowerId]) {
        const seqs = ackedHere.filter((s) => s.by === clients.get(userId)).map((s) => seqOf.get(s.clientMessageId) as number);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
      // Both participants were given the room's messages once each, in order, no gap: their
      // own as acks, the other's as message frames.
      for (const userId of [room.lenderId, room.borrowerId]) {
        const given = (clients.get(userId) as TestClient).frames
          .filter((f) => (f.type === 'ack' || f.type === 'message') && f.message?.roomId === room.roomId)
          .map((f) => f.message.seq as number);
        const first = given[0] as number;
        expect(given).toEqual(given.map((_, i) => first + i));
        // Every acked send of the room among them, and the two last ones: nothing else.
        for (const seq of seqOf.values()) expect(given).toContain(seq);
        expect(given).toHaveLength(ackedHere.length + 2);
      }
      // Stored: exactly the acked sends of the flood, once each; no refused send left a trace.
      const floodHere = new Set(sent.filter((s) => s.room === room).map((s) => s.clientMessageId));
      const storedIds = async (): Promise<string[]> => {
        const page = await call(server.url, 'GET', `/api/rooms/${room.roomId}/messages?after=0&limit=200`, { token: tokenFor(room.lenderId) });
        return (page.body.messages as Array<{ clientMessageId: string }>).map((m) => m.clientMessageId).filter((id) => floodHere.has(id));
      };
      await eventually(async () => (await storedIds()).length >= ackedHere.length, 15_000, 'the acked messages in the history');
      const stored = await storedIds();
      expect(stored).toHaveLength(ackedHere.length);
      expect(new Set(stored)).toEqual(new Set(ackedHere.map((s) => s.clientMessageId)));
    }
  });
});
