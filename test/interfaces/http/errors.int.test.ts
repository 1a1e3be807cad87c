import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Clock } from '../../../src/application/ports/clock';
import { roomIdFor } from '../../../src/application/room/roomId';
import { databaseKinds } from '../../support/databases';
import { as, call, eventually, type ApiResponse } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, TEST_JWT_SECRET, tokenFor } from '../../support/tokens';

/** The system clock, until a test makes it fail: the way to reach a 500 through a real server. */
class FailingClock implements Clock {
  failing = false;
  now(): Date {
    if (this.failing) throw new Error('clock exploded: SECRET-INTERNAL-DETAIL at /srv/app/clock.ts:12');
    return new Date();
  }
}

function expectError(res: ApiResponse, status: number, code: string, message?: string | RegExp): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  // Exactly the contract's shape, nothing else.
  expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  if (message !== undefined) expect(res.body.error.message).toMatch(message);
}

describe.each(databaseKinds)('HTTP errors on %s', (kind) => {
  let server: TestServer;
  const clock = new FailingClock();
  const lena = `lena-${randomUUID().slice(0, 8)}`;
  const bob = `bob-${randomUUID().slice(0, 8)}`;
  const stranger = `eve-${randomUUID().slice(0, 8)}`;
  let postId: string;
  let roomId: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { clock });
    postId = `post-${randomUUID().slice(0, 8)}`;
    expect((await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lena, title: 'Drill' })).status).toBe(200);
    const opened = await as(server.url, tokenFor(bob)).post('/api/rooms', { postId });
    roomId = opened.body.room.roomId;
    for (const body of ['one', 'two']) {
      expect((await as(server.url, tokenFor(bob)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  const user = (id: string) => as(server.url, tokenFor(id));

  describe('400 bad_request names the offending field', () => {
    const cases: Array<[string, () => Promise<ApiResponse>, RegExp]> = [
      ['limit of 0', () => user(bob).get(`/api/rooms/${roomId}/messages?limit=0`), /^limit: must be an integer from 1 to 200$/],
      ['limit over 200', () => user(bob).get(`/api/rooms/${roomId}/messages?limit=201`), /^limit: must be an integer from 1 to 200$/],
      ['limit not a number', () => user(bob).get(`/api/rooms/${roomId}/messages?limit=ten`), /^limit: /],
      ['limit given twice', () => user(bob).get(`/api/rooms/${roomId}/messages?limit=1&limit=2`), /^limit: /],
      ['before negative', () => user(bob).get(`/api/rooms/${roomId}/messages?before=-1`), /^before: /],
      ['after a fraction', () => user(bob).get(`/api/rooms/${roomId}/messages?after=1.5`), /^after: /],
      ['after beyond any seq', () => user(bob).get(`/api/rooms/${roomId}/messages?after=99999999999`), /^after: /],
      ['after not below before', () => user(bob).get(`/api/rooms/${roomId}/messages?after=5&before=5`), /^before: must be greater than after/],
      ['room list limit', () => user(bob).get('/api/rooms?limit=1000'), /^limit: must be an integer from 1 to 100$/],
      ['a made-up cursor', () => user(bob).get('/api/rooms?cursor=bm90LWEtY3Vyc29y'), /^cursor: /],
      ['a cursor with a bad time', () => user(bob).get(`/api/rooms?cursor=${Buffer.from('["0","x"]').toString('base64url')}`), /^cursor: /],
      ['a cursor with an impossible date', () => user(bob).get(`/api/rooms?cursor=${Buffer.from('["2026-02-30T00:00:00.000Z","ab"]').toString('base64url')}`), /^cursor: /],
      ['a cursor with a NUL in it', () => user(bob).get(`/api/rooms?cursor=${Buffer.from('["2026-01-01T00:00:00.000Z","a\\u0000"]').toString('base64url')}`), /^cursor: /],
      ['a malformed room id', () => user(bob).get('/api/rooms/not-a-room'), /^roomId: must be a room id/],
      ['a malformed post id', () => user(bob).get('/api/posts/bad%20id'), /^postId: must be 1 to 64 characters/],
      ['a post id too long', () => user(bob).get(`/api/posts/${'a'.repeat(65)}`), /^postId: /],
      ['bad percent-encoding in the path', () => user(bob).get('/api/rooms/%E0%A4%A'), /^path: /],
      ['open without postId', () => user(bob).post('/api/rooms', {}), /^postId: /],
      ['open with a numeric postId', () => user(bob).post('/api/rooms', { postId: 42 }), /^postId: /],
      ['open with no body', () => user(bob).post('/api/rooms'), /^body: must be a JSON object/],
      ['a JSON array body', () => user(bob).post('/api/rooms', [{ postId }]), /^body: must be a JSON object/],
      ['a body that is not JSON', () => call(server.url, 'POST', '/api/rooms', { token: tokenFor(bob), raw: '{"postId": ' }), /^body: not valid JSON$/],
      [
        'a body that claims gzip but is not',
        () => call(server.url, 'POST', '/api/rooms', { token: tokenFor(bob), raw: '{"postId":"x"}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }),
        /^body: could not be read$/,
      ],
      ['a text/plain body', () => call(server.url, 'POST', '/api/rooms', { token: tokenFor(bob), raw: 'hello', headers: { 'content-type': 'text/plain' } }), /^body: must be a JSON object/],
      ['send without body', () => user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID() }), /^body: must be a string/],
      ['send an empty body', () => user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: '' }), /^body: must be 1 to 4000 characters$/],
      ['send 4001 characters', () => user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'x'.repeat(4001) }), /^body: must be 1 to 4000 characters$/],
      ['send a lone surrogate', () => user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'a\ud800b' }), /^body: /],
      ['send a NUL', () => user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'a\u0000b' }), /^body: /],
      ['send without clientMessageId', () => user(bob).post(`/api/rooms/${roomId}/messages`, { body: 'hi' }), /^clientMessageId: /],
      ['send an empty clientMessageId', () => user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: '', body: 'hi' }), /^clientMessageId: /],
      ['send a 129-character clientMessageId', () => user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: 'c'.repeat(129), body: 'hi' }), /^clientMessageId: /],
      ['send a NUL in clientMessageId', () => user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: 'a\u0000', body: 'hi' }), /^clientMessageId: /],
      ['read without upToSeq', () => user(bob).post(`/api/rooms/${roomId}/read`, {}), /^upToSeq: /],
      ['read a negative seq', () => user(bob).post(`/api/rooms/${roomId}/read`, { upToSeq: -1 }), /^upToSeq: /],
      ['read a fractional seq', () => user(bob).post(`/api/rooms/${roomId}/read`, { upToSeq: 1.5 }), /^upToSeq: /],
      ['read a seq as text', () => user(bob).post(`/api/rooms/${roomId}/read`, { upToSeq: '1' }), /^upToSeq: /],
      ['read past the last message', () => user(bob).post(`/api/rooms/${roomId}/read`, { upToSeq: 3 }), /^upToSeq: is past the room's last message \(seq 2\)$/],
      ['upsert without ownerId', () => as(server.url, TEST_INTERNAL_TOKEN).put('/api/internal/posts/p-1', { title: 'x' }), /^ownerId: /],
      ['upsert a blank title', () => as(server.url, TEST_INTERNAL_TOKEN).put('/api/internal/posts/p-1', { ownerId: lena, title: '   ' }), /^title: must not be blank$/],
      ['upsert a 201-character title', () => as(server.url, TEST_INTERNAL_TOKEN).put('/api/internal/posts/p-1', { ownerId: lena, title: 't'.repeat(201) }), /^title: must be text of 1 to 200 characters$/],
      ['upsert a bad post id', () => as(server.url, TEST_INTERNAL_TOKEN).put('/api/internal/posts/a.b', { ownerId: lena, title: 'x' }), /^postId: /],
    ];
    it.each(cases)('%s', async (_name, request, message) => {
      expectError(await request(), 400, 'bad_request', message);
    });

    it('treats ?limit=&cursor= with empty values as not given', async () => {
      const rooms = await user(bob).get('/api/rooms?limit=&cursor=');
      expect(rooms.status).toBe(200);
      expect(rooms.body.rooms.map((r: { roomId: string }) => r.roomId)).toEqual([roomId]);
      const page = await user(bob).get(`/api/rooms/${roomId}/messages?before=&after=&limit=`);
      expect(page.body.messages.map((m: { body: string }) => m.body)).toEqual(['one', 'two']);
    });

    it('changes nothing when a request is refused', async () => {
      const messages = await user(lena).get(`/api/rooms/${roomId}/messages`);
      expect(messages.body.messages.map((m: { body: string }) => m.body)).toEqual(['one', 'two']);
      expect((await user(bob).get(`/api/rooms/${roomId}`)).body.room.lastReadSeq[bob]).toBe(0);
      expect((await user(bob).get('/api/posts/p-1')).status).toBe(404);
    });
  });

  describe('401 unauthorized without valid credentials', () => {
    const expired = () => jwt.sign({ sub: bob, exp: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
    const noExp = () => jwt.sign({ sub: bob }, TEST_JWT_SECRET, { algorithm: 'HS256' });
    const noneAlg = () => jwt.sign({ sub: bob }, '', { algorithm: 'none', expiresIn: 3600 });
    const cases: Array<[string, Record<string, string>]> = [
      ['no Authorization header', {}],
      ['a non-Bearer scheme', { authorization: `Basic ${Buffer.from('bob:pw').toString('base64')}` }],
      ['a token signed with another secret', { authorization: `Bearer ${tokenFor(bob, { secret: 'another-secret-that-is-long-enough-too!' })}` }],
      ['an expired token', { authorization: `Bearer ${expired()}` }],
      ['a token without exp', { authorization: `Bearer ${noExp()}` }],
      ['an unsigned (alg none) token', { authorization: `Bearer ${noneAlg()}` }],
      ['garbage', { authorization: 'Bearer not.a.jwt' }],
      ['a user token claiming a system actor', { authorization: `Bearer ${tokenFor('system:scheduler')}` }],
      ['the internal token', { authorization: `Bearer ${TEST_INTERNAL_TOKEN}` }],
    ];
    const routes: Array<[string, string]> = [
      ['GET', `/api/posts/PLACEHOLDER`],
      ['POST', '/api/rooms'],
      ['GET', '/api/rooms'],
      ['GET', '/api/rooms/ROOM'],
      ['GET', '/api/rooms/ROOM/messages'],
      ['POST', '/api/rooms/ROOM/messages'],
      ['POST', '/api/rooms/ROOM/read'],
      ['POST', '/api/rooms/ROOM/block'],
      ['DELETE', '/api/rooms/ROOM/block'],
    ];
    it.each(cases)('with %s, on every user route', async (_name, headers) => {
      for (const [method, path] of routes) {
        const res = await call(server.url, method, path.replace('ROOM', roomId).replace('PLACEHOLDER', postId), {
          headers,
          ...(method === 'GET' || method === 'DELETE' ? {} : { json: { postId, body: 'x', clientMessageId: randomUUID(), upToSeq: 1 } }),
        });
        expectError(res, 401, 'unauthorized');
      }
      // Nothing got through.
      expect((await user(lena).get(`/api/rooms/${roomId}/messages`)).body.messages).toHaveLength(2);
    });

    it('says when the token has expired, so the client knows to refresh it', async () => {
      const res = await call(server.url, 'GET', '/api/rooms', { token: expired() });
      expectError(res, 401, 'unauthorized', /expired/);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('guards /api/internal with the internal token, not user tokens', async () => {
      const put = (headers: Record<string, string>) =>
        call(server.url, 'PUT', `/api/internal/posts/${postId}`, { headers, json: { ownerId: stranger, title: 'stolen' } });
      expectError(await put({}), 401, 'unauthorized');
      expectError(await put({ authorization: `Bearer ${tokenFor(lena)}` }), 401, 'unauthorized');
      expectError(await put({ authorization: `Bearer ${TEST_INTERNAL_TOKEN}x` }), 401, 'unauthorized');
      expectError(await put({ authorization: `Bearer ${TEST_INTERNAL_TOKEN.slice(0, -1)}` }), 401, 'unauthorized');
      expectError(await put({ authorization: TEST_INTERNAL_TOKEN }), 401, 'unauthorized');
      expect((await user(lena).get(`/api/posts/${postId}`)).body.ownerId).toBe(lena);
    });
  });

  describe('404 not_found', () => {
    it('for a post the marketplace never registered', async () => {
      expectError(await user(bob).get('/api/posts/never-registered'), 404, 'not_found');
      expectError(await user(bob).post('/api/rooms', { postId: 'never-registered' }), 404, 'not_found');
      expect((await user(bob).get('/api/rooms')).body.rooms.map((r: { postId: string }) => r.postId)).not.toContain('never-registered');
    });

    it("for a stranger on every route of someone else's room, exactly as for a room that does not exist", async () => {
      const unknownRoomId = roomIdFor('no-such-post', 'nobody');
      const routes: Array<[string, string, unknown?]> = [
        ['GET', '/api/rooms/ROOM'],
        ['GET', '/api/rooms/ROOM/messages'],
        ['GET', '/api/rooms/ROOM/messages?after=0&limit=5'],
        ['POST', '/api/rooms/ROOM/messages', { clientMessageId: 'same', body: 'let me in' }],
        ['POST', '/api/rooms/ROOM/read', { upToSeq: 1 }],
        ['POST', '/api/rooms/ROOM/block'],
        ['DELETE', '/api/rooms/ROOM/block'],
      ];
      for (const [method, path, json] of routes) {
        const theirs = await call(server.url, method, path.replace('ROOM', roomId), { token: tokenFor(stranger), json });
        const unknown = await call(server.url, method, path.replace('ROOM', unknownRoomId), { token: tokenFor(stranger), json });
        expectError(theirs, 404, 'not_found');
        expectError(unknown, 404, 'not_found');
        // Same words too: nothing tells "exists but not yours" from "does not exist".
        expect(theirs.body.error.message.replace(roomId, 'ROOM')).toBe(unknown.body.error.message.replace(unknownRoomId, 'ROOM'));
      }
      // The room is untouched and the stranger's list is empty.
      expect((await user(lena).get(`/api/rooms/${roomId}`)).body.room).toMatchObject({ unreadCount: 2, lastMessage: { body: 'two' } });
      expect((await user(stranger).get('/api/rooms')).body.rooms).toEqual([]);
      expect((await user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'still mine' })).status).toBe(201);
    });

    it('for a route that does not exist', async () => {
      expectError(await user(bob).get('/api/nothing-here'), 404, 'not_found');
      expectError(await user(bob).put('/api/rooms', { postId }), 404, 'not_found');
    });
  });

  it('409 own_post when a lender tries to open a chat on their own post', async () => {
    const res = await user(lena).post('/api/rooms', { postId });
    expectError(res, 409, 'own_post');
    expect((await user(lena).get('/api/rooms')).body.rooms.every((r: { borrowerId: string }) => r.borrowerId !== lena)).toBe(true);
  });

  it('403 blocked when the other participant has blocked the sender', async () => {
    const carol = `carol-${randomUUID().slice(0, 8)}`;
    const opened = await user(carol).post('/api/rooms', { postId });
    const theirRoom = opened.body.room.roomId;
    expect((await user(lena).post(`/api/rooms/${theirRoom}/block`)).status).toBe(204);
    expectError(await user(carol).post(`/api/rooms/${theirRoom}/messages`, { clientMessageId: randomUUID(), body: 'hey' }), 403, 'blocked');
  });

  it('429 rate_limited for sends past SEND_RATE_LIMIT (10/s, bursts of 20); nothing refused is stored', async () => {
    const dan = `dan-${randomUUID().slice(0, 8)}`;
    const theirRoom = (await user(dan).post('/api/rooms', { postId })).body.room.roomId;
    let created = 0;
    let refused: ApiResponse | null = null;
    let refusedId = '';
    // All at once: one after the other, a loaded machine answers each in about the time
    // the bucket takes to refill, and the flood never runs dry. The server runs in this
    // process on the same monotonic clock, so `seconds` bounds the refill it could see.
    const startedAt = performance.now();
    const flood = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const clientMessageId = randomUUID();
        return { clientMessageId, res: await user(dan).post(`/api/rooms/${theirRoom}/messages`, { clientMessageId, body: `flood ${i}` }) };
      }),
    );
    const seconds = (performance.now() - startedAt) / 1000;
    for (const { clientMessageId, res } of flood) {
      if (res.status === 201) created += 1;
      else if (refused === null) {
        refused = res;
        refusedId = clientMessageId;
      } else {
        expectError(res, 429, 'rate_limited');
      }
    }
    expect(refused).not.toBeNull();
    expectError(refused as ApiResponse, 429, 'rate_limited');
    expect((refused as ApiResponse).headers.get('retry-after')).toBe('1');
    // The burst, plus at most what 10 a second refilled while the flood ran.
    expect(created).toBeGreaterThanOrEqual(20);
    expect(created).toBeLessThanOrEqual(20 + Math.floor(seconds * 10));
    expect((await user(lena).get(`/api/rooms/${theirRoom}/messages?limit=200`)).body.messages).toHaveLength(created);
    // Other users are not held back by dan's flood; dan's retry goes through once the bucket refills.
    expect((await user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'unaffected' })).status).toBe(201);
    // Refused retries store nothing, so the client may simply retry until the bucket has refilled.
    let retried: ApiResponse = refused as ApiResponse;
    await eventually(async () => {
      retried = await user(dan).post(`/api/rooms/${theirRoom}/messages`, { clientMessageId: refusedId, body: 'flood again' });
      if (retried.status !== 201) expectError(retried, 429, 'rate_limited');
      return retried.status === 201;
    }, 5_000, 'the bucket to refill');
    expect(retried.body.message.seq).toBe(created + 1);
  });

  it('413 payload_too_large for a body over the limit, and the room is unchanged', async () => {
    const res = await user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'x'.repeat(70 * 1024) });
    expectError(res, 413, 'payload_too_large');
    const last = (await user(bob).get(`/api/rooms/${roomId}`)).body.room.lastMessage;
    expect(last.body.length).toBeLessThan(100);
  });

  it('500 internal without a stack trace or the error text, and the server keeps serving', async () => {
    clock.failing = true;
    let res: ApiResponse;
    try {
      res = await user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'boom' });
    } finally {
      clock.failing = false;
    }
    expectError(res, 500, 'internal');
    expect(res.body.error.message).toBe('internal server error');
    expect(res.text).not.toMatch(/SECRET-INTERNAL-DETAIL|clock\.ts|\bat \w+ \(|Error:/);
    expect((await user(bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'fine again' })).status).toBe(201);
  });
});
