import { createTestDatabase, withConnection, type TestDatabase } from '../../support/databases';
import { auditProjection, seqsAreContiguous } from '../../support/readModels';
import { call, eventually, openRoom, unique } from '../../support/http';
import { expectLiveErasure } from '../../support/erasure';
import { spawnServer, stopServer, type ServerProcess } from '../../support/serverProcess';
import { closedAfterEach, connect, type Frame, sendAndAck, type TestClient } from '../../support/ws';
import { tokenFor } from '../../support/tokens';

/** Each process is `node src/main.ts` (serverProcess.ts), with unlimited sends: the pipelined case sends faster than a person would. */
describe('two server processes on one database', () => {
  let database: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  const track = closedAfterEach();
  const open = async (server: ServerProcess, userId: string): Promise<TestClient> => track(await connect(server.url, userId));

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // One after the other: both migrate the same fresh database.
    a = await spawnServer(database);
    b = await spawnServer(database);
  });
  afterAll(async () => {
    await Promise.all([a, b].map((server) => server && stopServer(server)));
    await database?.drop();
  });

  it('lets a borrower on one process and a lender on the other chat as if they shared one', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const lenderOnB = await open(b, lender);
    const room = await openRoom(a.url, lender, borrower);
    expect((await lenderOnB.nextOf('room')).room).toMatchObject({ roomId: room.roomId, status: 'open' });
    const borrowerOnA = await open(a, borrower);
    const lenderAlsoOnA = await open(a, lender);

    const asked = await sendAndAck(borrowerOnA, room.roomId, 'Is the drill free on Saturday?');
    expect((await lenderOnB.nextOf('message')).message).toEqual(asked);
    expect((await lenderAlsoOnA.nextOf('message')).message).toEqual(asked);

    lenderOnB.send({ type: 'typing', roomId: room.roomId });
    expect(await borrowerOnA.nextOf('typing')).toEqual({ type: 'typing', roomId: room.roomId, userId: lender });

    const answered = await sendAndAck(lenderOnB, room.roomId, 'Yes, pick it up at 10');
    expect((await borrowerOnA.nextOf('message')).message).toEqual(answered);
    expect((await lenderAlsoOnA.nextOf('message')).message).toEqual(answered);

    borrowerOnA.send({ type: 'read', roomId: room.roomId, upToSeq: 2 });
    expect(await lenderOnB.nextOf('read')).toEqual({ type: 'read', roomId: room.roomId, userId: borrower, upToSeq: 2 });

    // What one process pushed, the other serves over HTTP.
    const history = await call<{ messages: Frame[] }>(b.url, 'GET', `/api/rooms/${room.roomId}/messages`, { token: tokenFor(borrower) });
    expect(history.body.messages).toEqual([asked, answered]);
  });

  it('keeps a room in seq order on every connection while both sides write from different processes', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(b.url, lender, borrower);
    const [onA, onB] = [await open(a, borrower), await open(b, lender)];
    const watchers = [await open(a, lender), await open(b, borrower)];
    const each = 15;
    await Promise.all([
      (async () => {
        for (let i = 0; i < each; i += 1) await sendAndAck(onA, room.roomId, `a${i}`);
      })(),
      (async () => {
        for (let i = 0; i < each; i += 1) await sendAndAck(onB, room.roomId, `b${i}`);
      })(),
    ]);
    const total = 2 * each;
    for (const watcher of watchers) {
      await watcher.nextOf('message', (f) => f.message.seq === total, 10_000);
      expect(watcher.all('message').map((f) => f.message.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
    // Each writer got acks for its own and messages for the other's, together every seq once, in order.
    for (const writer of [onA, onB]) {
      await writer.waitFor((f) => (f.type === 'message' || f.type === 'ack') && f.message.seq === total, 10_000).catch(() => undefined);
      const seqs = writer.frames.filter((f) => f.type === 'message' || f.type === 'ack').map((f) => f.message.seq);
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
  });

  it('commits sends fired from two processes without waiting into one gap-free room: acks in send order, every connection in seq order, the chain verified, the read models exact', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(a.url, lender, borrower);
    const [onA, onB] = [await open(a, borrower), await open(b, lender)];
    const watchers = [await open(b, borrower), await open(a, lender)];
    const each = 25;
    const fire = (client: TestClient, label: string): string[] =>
      Array.from({ length: each }, (_, i) => {
        const clientMessageId = `${label}-${i}-${unique('c')}`;
        client.send({ type: 'send', roomId: room.roomId, clientMessageId, body: `${label}${i}` });
        return clientMessageId;
      });
    const [firedA, firedB] = [fire(onA, 'a'), fire(onB, 'b')];
    const total = 2 * each;
    for (const [writer, fired] of [[onA, firedA], [onB, firedB]] as const) {
      await writer.waitFor(() => writer.all('ack').length === each, 20_000);
      const acks = writer.all('ack');
      // The acks come back in the order the sends were made, with growing seqs.
      expect(acks.map((f) => f.clientMessageId)).toEqual(fired);
      expect(acks.map((f) => f.message.seq)).toEqual([...acks.map((f) => f.message.seq)].sort((x, y) => x - y));
    }
    for (const watcher of watchers) {
      await watcher.nextOf('message', (f) => f.message.seq === total, 20_000);
      expect(watcher.all('message').map((f) => f.message.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
    const audit = await call<{ events: Frame[]; verified: boolean }>(a.url, 'GET', `/api/audit/rooms/${room.roomId}/events`, {
      token: tokenFor('auditor-1', { roles: ['auditor'] }),
    });
    expect(audit.body.verified).toBe(true);
    expect(audit.body.events.map((e) => e.streamRevision)).toEqual(Array.from({ length: total + 1 }, (_, i) => i));
  });

  it('leaves read models that match the events exactly after both processes projected side by side', async () => {
    await withConnection(database, async (db) => {
      let audit = await auditProjection(db);
      await eventually(async () => {
        audit = await auditProjection(db);
        return audit.rows.length === audit.events.length;
      });
      expect(audit.rows).toEqual(audit.events);
      expect(seqsAreContiguous(audit.rows)).toBe(true);
      expect(audit.wrongUnread).toEqual([]);
      expect(audit.wrongLastSeq).toEqual([]);
    });
  });

  it('resumes on the other process after a reconnect', async () => {
    const [lender, borrower] = [unique('lender'), unique('borrower')];
    const room = await openRoom(a.url, lender, borrower);
    const writer = await open(a, borrower);
    const sent: Frame[] = [];
    for (let i = 0; i < 5; i += 1) sent.push(await sendAndAck(writer, room.roomId, `m${i}`));
    const reader = await open(b, lender);
    reader.send({ type: 'resume', roomId: room.roomId, afterSeq: 2 });
    const resumed = await reader.nextOf('resumed');
    expect(resumed).toEqual({ type: 'resumed', roomId: room.roomId, lastSeq: 5 });
    expect(reader.all('message').map((f) => f.message)).toEqual(sent.slice(2));
  });


  it('erases a user asked of one process on the other too: their socket there closes with 4003, their token is refused there, and the other participant there sees their messages erased, live and in history, seqs unchanged', async () => {
    // Both users on B only: what B does, it learns from the store, not from the request A took.
    await expectLiveErasure({ askAt: a.url, chatAt: b.url }, async (url, userId) => track(await connect(url, userId)));
  }, 120_000);
});
