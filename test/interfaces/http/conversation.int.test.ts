import { randomUUID } from 'node:crypto';
import { databaseKinds } from '../../support/databases';
import { as, call } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

/**
 * The borrower/lender story over real HTTP against a started server. Each test takes
 * fresh user and post ids, so tests share the server without seeing each other.
 */
describe.each(databaseKinds)('the HTTP API on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const marketplace = () => as(server.url, TEST_INTERNAL_TOKEN);
  const user = (id: string) => as(server.url, tokenFor(id));
  const send = (who: string, roomId: string, body: string, clientMessageId: string = randomUUID()) =>
    user(who).post(`/api/rooms/${roomId}/messages`, { clientMessageId, body });

  async function postOf(ownerId: string, title = 'Cordless drill'): Promise<string> {
    const postId = fresh('post');
    const res = await marketplace().put(`/api/internal/posts/${postId}`, { ownerId, title });
    expect(res.status).toBe(200);
    return postId;
  }

  async function roomBetween(lender: string, borrower: string): Promise<{ postId: string; roomId: string }> {
    const postId = await postOf(lender);
    const res = await user(borrower).post('/api/rooms', { postId });
    expect(res.status).toBe(201);
    return { postId, roomId: res.body.room.roomId };
  }

  it('registers a post for the marketplace, which any signed-in user can then read, and takes updates', async () => {
    const lena = fresh('lena');
    const postId = fresh('post');
    const put = await marketplace().put(`/api/internal/posts/${postId}`, { ownerId: lena, title: 'Cordless drill', extra: 'ignored' });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ post: { postId, ownerId: lena, title: 'Cordless drill' } });

    const got = await user(fresh('bob')).get(`/api/posts/${postId}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ postId, ownerId: lena, title: 'Cordless drill' });

    // Numeric ids are fine as strings; a renamed post reads back renamed at once.
    const numeric = String(Date.now());
    expect((await marketplace().put(`/api/internal/posts/${numeric}`, { ownerId: lena, title: 'Tent' })).status).toBe(200);
    expect((await marketplace().put(`/api/internal/posts/${numeric}`, { ownerId: lena, title: 'Tent for 4' })).status).toBe(200);
    expect((await user(lena).get(`/api/posts/${numeric}`)).body.title).toBe('Tent for 4');
  });

  it('accepts a burst of concurrent sends from both sides of one room, numbering them 1..n with no gap', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    const sends = Array.from({ length: 30 }, (_, i) => send(i % 2 === 0 ? bob : lena, roomId, `message ${i}`));
    const answers = await Promise.all(sends);
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(201));
    const seqs = answers.map((a) => a.body.message.seq as number).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const history = await user(lena).get(`/api/rooms/${roomId}/messages?limit=50`);
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual(seqs);
  });

  it('lets a borrower open a room on a post, and gives back the same room when opened again', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const postId = await postOf(lena, 'Ladder');

    const opened = await user(bob).post('/api/rooms', { postId });
    expect(opened.status).toBe(201);
    expect(opened.body).toEqual({
      room: {
        roomId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        postId,
        postTitle: 'Ladder',
        lenderId: lena,
        borrowerId: bob,
        status: 'open',
        openedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        lastActivityAt: opened.body.room.openedAt,
        lastMessage: null,
        unreadCount: 0,
        lastReadSeq: { [lena]: 0, [bob]: 0 },
        blockedByMe: false,
        blockedMe: false,
        participants: {},
      },
      messages: [],
      hasMore: false,
    });
    const roomId = opened.body.room.roomId;

    await send(bob, roomId, 'hello');
    const again = await user(bob).post('/api/rooms', { postId });
    expect(again.status).toBe(200);
    expect(again.body.room.roomId).toBe(roomId);
    expect(again.body.messages.map((m: { body: string }) => m.body)).toEqual(['hello']);
    expect(again.body.hasMore).toBe(false);

    // Another borrower on the same post gets a room of their own.
    const other = await user(fresh('carol')).post('/api/rooms', { postId });
    expect(other.status).toBe(201);
    expect(other.body.room.roomId).not.toBe(roomId);

    // Both participants read the room the same way; the lender sees the unread message.
    expect((await user(lena).get(`/api/rooms/${roomId}`)).body.room).toMatchObject({ roomId, unreadCount: 1, lastMessage: { body: 'hello' } });
  });

  it('carries a conversation: seqs without gaps, each side sees the other at once, retries give the original', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);

    const first = await send(bob, roomId, 'Is the drill free on Saturday?', 'c-1');
    expect(first.status).toBe(201);
    expect(first.body.message).toEqual({
      messageId: expect.any(String),
      roomId,
      seq: 1,
      senderId: bob,
      body: 'Is the drill free on Saturday?',
      sentAt: expect.stringMatching(/Z$/),
      clientMessageId: 'c-1',
      kind: 'text',
      hidden: false,
      erased: false,
      safety: [],
      attachments: [],
    });
    // Read-your-writes: the lender's very next GET has it, with no waiting.
    const seen = await user(lena).get(`/api/rooms/${roomId}/messages`);
    expect(seen.body).toEqual({ messages: [first.body.message], hasMore: false });

    // The same clientMessageId again is the same message, not a second one.
    const retry = await send(bob, roomId, 'Is the drill free on Saturday?', 'c-1');
    expect(retry.status).toBe(200);
    expect(retry.body.message).toEqual(first.body.message);

    const reply = await send(lena, roomId, 'Yes, from 9.');
    expect(reply.body.message.seq).toBe(2);
    // The same clientMessageId from the other participant is a different message.
    const sameIdOtherSender = await send(lena, roomId, 'Bring ID.', 'c-1');
    expect(sameIdOtherSender.status).toBe(201);
    expect(sameIdOtherSender.body.message.seq).toBe(3);
    // Text is kept exactly, untrimmed, whatever script it is in.
    const exact = await send(bob, roomId, '  Great 👍 — até sábado!\n');
    expect(exact.body.message.body).toBe('  Great 👍 — até sábado!\n');

    const history = await user(bob).get(`/api/rooms/${roomId}/messages`);
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(history.body.messages.at(-1).body).toBe('  Great 👍 — até sábado!\n');
  });

  it('pages history both ways with before/after/limit, ascending, and says when there is more', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    for (let i = 1; i <= 7; i += 1) expect((await send(i % 2 ? bob : lena, roomId, `m${i}`)).status).toBe(201);
    const page = async (query: string) => {
      const res = await user(lena).get(`/api/rooms/${roomId}/messages${query}`);
      expect(res.status).toBe(200);
      return { seqs: res.body.messages.map((m: { seq: number }) => m.seq), hasMore: res.body.hasMore };
    };

    expect(await page('')).toEqual({ seqs: [1, 2, 3, 4, 5, 6, 7], hasMore: false });
    // Default: the latest page. Then older pages with before=<first seq seen>.
    expect(await page('?limit=3')).toEqual({ seqs: [5, 6, 7], hasMore: true });
    expect(await page('?limit=3&before=5')).toEqual({ seqs: [2, 3, 4], hasMore: true });
    expect(await page('?limit=3&before=2')).toEqual({ seqs: [1], hasMore: false });
    // Forward from a seq the client has, for catching up.
    expect(await page('?limit=3&after=0')).toEqual({ seqs: [1, 2, 3], hasMore: true });
    expect(await page('?limit=3&after=3')).toEqual({ seqs: [4, 5, 6], hasMore: true });
    expect(await page('?limit=3&after=6')).toEqual({ seqs: [7], hasMore: false });
    expect(await page('?after=7')).toEqual({ seqs: [], hasMore: false });
    // Both: the newest page strictly between them.
    expect(await page('?after=1&before=7&limit=2')).toEqual({ seqs: [5, 6], hasMore: true });
    expect(await page('?after=4&before=7&limit=2')).toEqual({ seqs: [5, 6], hasMore: false });
  });

  it('counts unread messages for each side, and marking read clears them for that side only', async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    for (const body of ['a', 'b', 'c']) await send(bob, roomId, body);
    await send(lena, roomId, 'd');
    await send(lena, roomId, 'e');

    const view = async (who: string) => (await user(who).get(`/api/rooms/${roomId}`)).body.room;
    // Unread counts the other participant's messages after what you have read; your own never count.
    expect((await view(lena)).unreadCount).toBe(3);
    expect((await view(bob)).unreadCount).toBe(2);

    const read = await user(lena).post(`/api/rooms/${roomId}/read`, { upToSeq: 2 });
    expect(read.status).toBe(204);
    expect(read.text).toBe('');
    expect(await view(lena)).toMatchObject({ unreadCount: 1, lastReadSeq: { [lena]: 2, [bob]: 0 } });
    expect(await view(bob)).toMatchObject({ unreadCount: 2, lastReadSeq: { [lena]: 2, [bob]: 0 } });

    // Reading backwards changes nothing; reading everything clears the count.
    expect((await user(lena).post(`/api/rooms/${roomId}/read`, { upToSeq: 1 })).status).toBe(204);
    expect((await view(lena)).lastReadSeq[lena]).toBe(2);
    expect((await user(lena).post(`/api/rooms/${roomId}/read`, { upToSeq: 5 })).status).toBe(204);
    expect((await view(lena)).unreadCount).toBe(0);
    expect((await user(bob).post(`/api/rooms/${roomId}/read`, { upToSeq: 5 })).status).toBe(204);
    expect((await view(bob)).unreadCount).toBe(0);

    // A new message counts again, for its reader only; the room list shows the same numbers.
    await send(bob, roomId, 'f');
    const lenaList = (await user(lena).get('/api/rooms')).body.rooms;
    const bobList = (await user(bob).get('/api/rooms')).body.rooms;
    expect(lenaList.find((r: { roomId: string }) => r.roomId === roomId)).toMatchObject({ unreadCount: 1, lastMessage: { seq: 6, body: 'f' } });
    expect(bobList.find((r: { roomId: string }) => r.roomId === roomId)).toMatchObject({ unreadCount: 0, lastMessage: { seq: 6 } });
  });

  it("lists the caller's rooms, newest activity first, a page at a time with nextCursor", async () => {
    const lena = fresh('lena');
    const borrowers = [fresh('b1'), fresh('b2'), fresh('b3')];
    const rooms: string[] = [];
    for (const borrower of borrowers) rooms.push((await roomBetween(lena, borrower)).roomId);
    // Activity: a message in the first room makes it the newest.
    await send(borrowers[0] as string, rooms[0] as string, 'still there?');

    const all = await user(lena).get('/api/rooms');
    expect(all.status).toBe(200);
    expect(all.body.rooms.map((r: { roomId: string }) => r.roomId)).toEqual([rooms[0], rooms[2], rooms[1]]);
    expect(all.body.nextCursor).toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=1${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const res = await user(lena).get(`/api/rooms${query}`);
      expect(res.status).toBe(200);
      expect(res.body.rooms).toHaveLength(1);
      seen.push(res.body.rooms[0].roomId);
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual([rooms[0], rooms[2], rooms[1]]);

    // A borrower sees only their own room; a user with no rooms sees none.
    expect((await user(borrowers[1] as string).get('/api/rooms')).body.rooms.map((r: { roomId: string }) => r.roomId)).toEqual([rooms[1]]);
    expect((await user(fresh('nobody')).get('/api/rooms')).body).toEqual({ rooms: [], nextCursor: null });
  });

  it("blocks the other side's sends until unblocked, while the blocker can still write", async () => {
    const lena = fresh('lena');
    const bob = fresh('bob');
    const { roomId } = await roomBetween(lena, bob);
    await send(bob, roomId, 'hi');

    const block = await user(lena).post(`/api/rooms/${roomId}/block`);
    expect(block.status).toBe(204);
    expect(block.text).toBe('');
    const refused = await send(bob, roomId, 'hello??');
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: { code: 'blocked', message: expect.any(String) } });
    // Nothing of it reaches the blocker.
    const afterBlock = await user(lena).get(`/api/rooms/${roomId}/messages`);
    expect(afterBlock.body.messages.map((m: { body: string }) => m.body)).toEqual(['hi']);
    expect((await user(lena).get(`/api/rooms/${roomId}`)).body.room.unreadCount).toBe(1);
    // Blocking is one-way: the blocker may still write; blocking twice is fine.
    expect((await send(lena, roomId, 'please stop')).status).toBe(201);
    expect((await user(lena).post(`/api/rooms/${roomId}/block`)).status).toBe(204);

    const unblock = await user(lena).delete(`/api/rooms/${roomId}/block`);
    expect(unblock.status).toBe(204);
    const resent = await send(bob, roomId, 'sorry');
    expect(resent.status).toBe(201);
    expect(resent.body.message.seq).toBe(3);
    expect((await user(lena).delete(`/api/rooms/${roomId}/block`)).status).toBe(204);
  });

  it('answers with a correlation id: the caller’s x-request-id when sane, else a fresh one', async () => {
    const kept = await call(server.url, 'GET', '/healthz', { headers: { 'x-request-id': 'req-42.abc' } });
    expect(kept.headers.get('x-request-id')).toBe('req-42.abc');
    const replaced = await call(server.url, 'GET', '/healthz', { headers: { 'x-request-id': 'x'.repeat(300) } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const made = await call(server.url, 'GET', '/healthz');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
