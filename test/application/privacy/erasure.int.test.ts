/**
 * Erasure end to end on a real server (PostgreSQL and PGlite): two users chat, the
 * marketplace erases one through the internal API. Afterwards the database holds none of
 * the erased user's words, the other user's messages read back, every event row that
 * existed before is the same, byte for byte, `audit verify` passes, and the erasure is
 * in the record.
 */
import { randomUUID } from 'node:crypto';
import { as, call, eventually, openRoom, unique } from '../../support/http';
import { databaseKinds, withConnection } from '../../support/databases';
import { dumpDatabase, eventRows } from '../../support/erasure';
import { runCli } from '../../support/auditCli';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

describe.each(databaseKinds)('erasing a user on %s', (kind) => {
  let server: TestServer | null = null;
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  it('leaves none of their words in the database, the rest as it was, and the audit record whole', async () => {
    server = await startTestServer(kind);
    let { url } = server;
    const lena = unique('lena');
    const bob = unique('bob');
    const room = await openRoom(url, lena, bob);
    const marker = randomUUID().slice(0, 8);
    const bobWords = Array.from({ length: 5 }, (_, i) => `bobsecret${marker}x${i} my phone is 010`);
    const lenaWords = Array.from({ length: 3 }, (_, i) => `lenareply${marker}x${i}`);
    const bodies = [bobWords[0], lenaWords[0], bobWords[1], bobWords[2], lenaWords[1], bobWords[3], bobWords[4], lenaWords[2]] as string[];
    for (const [i, body] of bodies.entries()) {
      const sender = bobWords.includes(body) ? bob : lena;
      const sent = await as(url, tokenFor(sender, { claims: { name: sender === bob ? `Bob ${marker}` : 'Lena' } })).post(`/api/rooms/${room.roomId}/messages`, {
        clientMessageId: `m-${i}`,
        body,
      });
      expect(sent.status).toBe(201);
    }
    // The rows as stored before, read with the server stopped (PGlite has one user at a time).
    await server.close();
    const before = await withConnection(server.database, eventRows);
    server = await startTestServer(kind, { database: server.database });
    url = server.url;

    const internal = as(url, TEST_INTERNAL_TOKEN);
    // Clear 400s and 401s first.
    expect((await call(url, 'POST', `/api/internal/users/${bob}/erasure`)).status).toBe(401);
    expect((await internal.post('/api/internal/users/system/erasure')).status).toBe(400);
    expect((await internal.get('/api/internal/erasures/not-an-id')).body.error.code).toBe('bad_request');
    expect((await internal.get(`/api/internal/erasures/${randomUUID()}`)).status).toBe(404);

    const asked = await internal.post(`/api/internal/users/${bob}/erasure`, undefined, { headers: { 'x-request-id': `erase-${marker}` } });
    expect(asked.status).toBe(202);
    expect(asked.body.erasure).toMatchObject({ userId: bob, status: expect.stringMatching(/^(pending|done)$/) });
    const erasureId: string = asked.body.erasure.erasureId;
    const again = await internal.post(`/api/internal/users/${bob}/erasure`);
    expect(again.status).toBe(202);
    expect(again.body.erasure.erasureId).toBe(erasureId);
    expect(again.body.erasure.requestedAt).toBe(asked.body.erasure.requestedAt);

    let done: { status: string; counts: unknown; completedAt: string | null } | null = null;
    await eventually(async () => {
      const read = await internal.get(`/api/internal/erasures/${erasureId}`);
      done = read.body.erasure;
      return read.status === 200 && read.body.erasure.status === 'done';
    }, 60_000, 'the erasure to be done');
    expect(done).toMatchObject({ status: 'done', counts: { rooms: 1, messages: 5 }, completedAt: expect.any(String) });

    // Their token is refused; the other participant reads everything, bob's erased, in order.
    expect((await as(url, tokenFor(bob)).get('/api/rooms')).status).toBe(401);
    const history = await as(url, tokenFor(lena)).get(`/api/rooms/${room.roomId}/messages?limit=50`);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const [i, m] of history.body.messages.entries()) {
      if (m.senderId === bob) expect(m).toMatchObject({ body: '', erased: true, clientMessageId: `m-${i}` });
      else expect(m).toMatchObject({ body: bodies[i], erased: false });
    }

    await server.close();
    const after = await withConnection(server.database, eventRows);
    expect(after.slice(0, before.length)).toEqual(before);
    const added = after.slice(before.length).join('\n');
    expect(added).toContain('UserErasureRequested');
    expect(added).toContain('UserErased');
    expect(added).toContain(`erase-${marker}`);
    const dump = await dumpDatabase(server.database);
    // The dump sees text: the other user's messages are in the history's read model.
    for (const lenaWord of lenaWords) expect(dump).toContain(lenaWord);
    for (const word of bobWords) expect(dump).not.toContain(word);
    expect(dump).not.toContain(`bobsecret${marker}`);
    expect(dump).not.toContain(`Bob ${marker}`);
    expect(dump).toContain(erasureId);

    const verify = await runCli(server.database, ['verify']);
    expect({ code: verify.code, out: verify.code === 0 ? '' : verify.stdout + verify.stderr }).toEqual({ code: 0, out: '' });
    server = { ...server, close: async () => undefined };
  }, 240_000);
});
