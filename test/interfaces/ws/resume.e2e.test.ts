import { openRoom, unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect, sendAllAcked, type Frame, type TestClient } from '../../support/ws';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Sends `count` messages as fast as the connection takes them, and waits for every ack. */
const burst = (client: TestClient, roomId: string, count: number, label: string): Promise<Frame[]> =>
  sendAllAcked(
    client,
    roomId,
    Array.from({ length: count }, (_, i) => `${label} ${i}`),
  );

/** Keeps sending, each message once the one before is acked, until stopped; resolves to the seqs it was acked. */
function keepSending(client: TestClient, roomId: string): { stop: () => Promise<number[]> } {
  let running = true;
  const done = (async () => {
    const seqs: number[] = [];
    while (running) {
      const [ack] = await sendAllAcked(client, roomId, [`live ${seqs.length}`], 10_000);
      seqs.push((ack as Frame).message.seq);
    }
    return seqs;
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

const seqsOf = (client: TestClient, roomId: string): number[] =>
  client.frames.filter((f) => f.type === 'message' && f.message.roomId === roomId).map((f) => f.message.seq as number);

describe('resume', () => {
  let server: TestServer;
  const track = closedAfterEach();
  const open = async (userId: string): Promise<TestClient> => track(await connect(server.url, userId));

  beforeAll(async () => {
    server = await startTestServer('postgres', { env: { SEND_RATE_LIMIT: '0' } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('replays the messages a client missed, across pages, while the other side keeps sending: in order, once', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const writer = await open(room.borrowerId);
    const seeded = await burst(writer, room.roomId, 250, 'before');
    // A send refused under load is sent again, so its seq may come later than its place in the burst.
    expect(seeded.map((a) => a.message.seq as number).sort((a, b) => a - b)).toEqual(range(1, 250));

    const reader = await open(room.lenderId);
    const live = keepSending(writer, room.roomId);
    reader.send({ type: 'resume', roomId: room.roomId, afterSeq: 0 });
    const resumed = await reader.nextOf('resumed', () => true, 20_000);
    // Live messages after the resume too: at least three past it, and at least six live ones in all.
    await reader.nextOf('message', (f) => f.message.seq >= Math.max(resumed.lastSeq + 3, 256), 20_000);
    const sentLive = await live.stop();
    const last = sentLive.at(-1) as number;
    // Already taken above, perhaps: the writer may have been stopped right after that message.
    await reader.waitFor((f) => f.type === 'message' && f.message.seq === last);

    expect(resumed.lastSeq).toBeGreaterThanOrEqual(250);
    // Every message, in seq order, each once: replayed, then held back, then live. Live messages that
    // came before the resume was handled were held back too (the connection had just opened).
    expect(seqsOf(reader, room.roomId)).toEqual(range(1, last));
    expect(sentLive.length).toBeGreaterThan(5);
    const resumedAt = reader.frames.indexOf(resumed);
    expect(reader.frames.slice(0, resumedAt).filter((f) => f.type === 'message').at(-1)?.message.seq).toBe(resumed.lastSeq);
    // The writer's acks came in seq order too.
    expect(writer.all('ack').map((f) => f.message.seq)).toEqual(range(1, last));
  });

  it('a client that reconnects and resumes from the last seq it saw misses nothing and gets nothing twice', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const writer = await open(room.borrowerId);
    const first = await open(room.lenderId);
    await burst(writer, room.roomId, 20, 'one');
    const live = keepSending(writer, room.roomId);
    await first.nextOf('message', (f) => f.message.seq >= 25);
    first.ws.terminate();
    await first.closed;
    const seen = seqsOf(first, room.roomId);
    const lastSeen = seen.at(-1) as number;
    expect(seen).toEqual(range(1, lastSeen));

    // Messages written while the lender is away.
    await writer.waitFor((f) => f.type === 'ack' && f.message.seq >= lastSeen + 3);
    const second = await open(room.lenderId);
    second.send({ type: 'resume', roomId: room.roomId, afterSeq: lastSeen });
    const resumed = await second.nextOf('resumed');
    // And live ones after the resume.
    await second.nextOf('message', (f) => f.message.seq >= resumed.lastSeq + 3);
    const sentLive = await live.stop();
    const last = sentLive.at(-1) as number;
    await second.waitFor((f) => f.type === 'message' && f.message.seq === last);
    expect(seqsOf(second, room.roomId)).toEqual(range(lastSeen + 1, last));
  });

  it('a resume asked for later replays what it names again; live messages still arrive once', async () => {
    const room = await openRoom(server.url, unique('lender'), unique('borrower'));
    const writer = await open(room.borrowerId);
    const reader = await open(room.lenderId);
    await burst(writer, room.roomId, 5, 'x');
    await reader.nextOf('message', (f) => f.message.seq === 5);
    reader.send({ type: 'resume', roomId: room.roomId, afterSeq: 3 });
    expect(await reader.nextOf('resumed')).toEqual({ type: 'resumed', roomId: room.roomId, lastSeq: 5 });
    await burst(writer, room.roomId, 2, 'y');
    await reader.nextOf('message', (f) => f.message.seq === 7);
    expect(seqsOf(reader, room.roomId)).toEqual([1, 2, 3, 4, 5, 4, 5, 6, 7]);
  });
});

describe('resume behind a long replay', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The opening hold ends at once, so only the per-room hold can keep live frames back.
    server = await startTestServer('postgres', { env: { SEND_RATE_LIMIT: '0' }, ws: { warmupMs: 1 } });
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  it('holds live messages of a room whose resume waits behind another, so each arrives once, in order', async () => {
    const lena = unique('lena');
    const bob = unique('bob');
    const busy = await openRoom(server.url, lena, bob);
    const quiet = await openRoom(server.url, lena, bob);
    const sender = await connect(server.url, bob);
    // A long replay for the busy room (400 messages of 4000 characters) while the reader
    // does not read. Loopback buffers may still take it all, so which comes first (the
    // quiet room's replay or its live messages) varies; either way each arrives once, in order.
    const big = 'x'.repeat(4000);
    for (let chunk = 0; chunk < 2; chunk += 1) {
      await sendAllAcked(sender, busy.roomId, Array.from({ length: 200 }, () => big));
    }
    await burst(sender, quiet.roomId, 1, 'first');

    const reader = await connect(server.url, lena);
    // Any frame but a resume ends the opening hold; its pong says it has ended.
    await reader.roundTrip();
    reader.ws.pause();
    reader.send({ type: 'resume', roomId: busy.roomId, afterSeq: 0 });
    reader.send({ type: 'resume', roomId: quiet.roomId, afterSeq: 1 });
    // Live messages for the quiet room while the busy room's replay is stuck. The fan-out hands the
    // reader's connection its copy in the same step as it acks the sender, so once the acks are in,
    // the reader's connection holds them.
    await burst(sender, quiet.roomId, 3, 'live');
    reader.ws.resume();

    const resumed = await reader.next((f) => f.type === 'resumed' && f.roomId === quiet.roomId, 20_000);
    expect(resumed.lastSeq).toBeGreaterThanOrEqual(1);
    // One more message in each room: each room's frames go out in seq order, so a repeat would come before it.
    const [quietMarker] = await burst(sender, quiet.roomId, 1, 'marker');
    const [busyMarker] = await burst(sender, busy.roomId, 1, 'marker');
    await reader.waitFor((f) => f.type === 'message' && f.message.messageId === quietMarker?.message.messageId, 20_000);
    await reader.waitFor((f) => f.type === 'message' && f.message.messageId === busyMarker?.message.messageId, 20_000);
    expect(seqsOf(reader, quiet.roomId)).toEqual([2, 3, 4, 5]);
    expect(seqsOf(reader, busy.roomId)).toEqual(range(1, 401));
    sender.close();
    reader.close();
  });
});
