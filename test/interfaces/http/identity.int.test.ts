import { randomUUID } from 'node:crypto';
import { databaseKinds } from '../../support/databases';
import { as, eventually, openRoom } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { tokenFor } from '../../support/tokens';

/**
 * People are shown by name: the room object's `participants` from the `name` and
 * `picture` claims of each user's latest token, and the block state as the caller sees it.
 */
describe.each(databaseKinds)('names, pictures and blocks in the room object on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const withClaims = (userId: string, claims: Record<string, unknown>) => as(server.url, tokenFor(userId, { claims }));
  const roomAs = async (userId: string, roomId: string, claims: Record<string, unknown> = {}) =>
    (await withClaims(userId, claims).get(`/api/rooms/${roomId}`)).body.room;

  it('shows each participant by the name and picture of their latest token, to both, and follows a change', async () => {
    const lena = fresh('lena');
    const minho = fresh('minho');
    const room = await openRoom(server.url, lena, minho);
    // Nothing known yet: nobody is in `participants`.
    expect((await roomAs(minho, room.roomId)).participants).toEqual({});

    await withClaims(lena, { name: 'Lena Park', picture: 'https://img.example.com/lena.png' }).get('/api/rooms');
    await withClaims(minho, { name: '  Minho  ' }).get('/api/rooms');
    const expected = { [lena]: { name: 'Lena Park', picture: 'https://img.example.com/lena.png' }, [minho]: { name: 'Minho' } };
    await eventually(async () => JSON.stringify((await roomAs(minho, room.roomId)).participants) === JSON.stringify(expected), 10_000, 'both names');
    expect((await roomAs(lena, room.roomId)).participants).toEqual(expected);
    // In the room list too.
    const listed = await as(server.url, tokenFor(lena)).get('/api/rooms');
    expect(listed.body.rooms.find((r: { roomId: string }) => r.roomId === room.roomId).participants).toEqual(expected);

    // A new name replaces the old one; dropping the picture claim drops the picture.
    await withClaims(lena, { name: 'Lena P.' }).get('/api/rooms');
    await eventually(async () => (await roomAs(minho, room.roomId)).participants[lena]?.name === 'Lena P.', 10_000, 'the new name');
    expect((await roomAs(minho, room.roomId)).participants[lena]).toEqual({ name: 'Lena P.' });

    // A token with neither claim (another issuer, a service token) leaves what is known alone.
    await as(server.url, tokenFor(lena)).get('/api/rooms');
    await withClaims(minho, { name: 'Minho' }).get('/api/rooms'); // a request after it, to wait behind
    expect((await roomAs(minho, room.roomId)).participants[lena]).toEqual({ name: 'Lena P.' });
  });

  it('ignores claims that are not a usable name or an https picture, without refusing the token', async () => {
    const lena = fresh('lena');
    const minho = fresh('minho');
    const room = await openRoom(server.url, lena, minho);
    const tooLong = 'x'.repeat(65);
    for (const claims of [
      { name: tooLong, picture: 'http://img.example.com/plain-http.png' },
      { name: '', picture: 'javascript:alert(1)' },
      { name: 'Bell\u0007', picture: 'https://user:secret@img.example.com/a.png' },
      { name: 42, picture: ['https://img.example.com/a.png'] },
    ]) {
      const res = await withClaims(lena, claims).get(`/api/rooms/${room.roomId}`);
      expect(res.status).toBe(200);
    }
    // 64 characters (counted as people count them, emoji included) is still a name.
    const longest = '😀'.repeat(64);
    await withClaims(minho, { name: longest }).get('/api/rooms');
    await eventually(async () => (await roomAs(lena, room.roomId)).participants[minho]?.name === longest, 10_000, 'the longest name');
    expect((await roomAs(lena, room.roomId)).participants[lena]).toBeUndefined();
  });

  it('tells each participant who blocked whom: blockedByMe for the blocker, blockedMe for the blocked', async () => {
    const lena = fresh('lena');
    const minho = fresh('minho');
    const room = await openRoom(server.url, lena, minho);
    expect(await roomAs(lena, room.roomId)).toMatchObject({ blockedByMe: false, blockedMe: false });

    expect((await as(server.url, tokenFor(lena)).post(`/api/rooms/${room.roomId}/block`)).status).toBe(204);
    expect(await roomAs(lena, room.roomId)).toMatchObject({ blockedByMe: true, blockedMe: false });
    expect(await roomAs(minho, room.roomId)).toMatchObject({ blockedByMe: false, blockedMe: true });
    const opened = await as(server.url, tokenFor(minho)).post('/api/rooms', { postId: (await roomAs(minho, room.roomId)).postId });
    expect(opened.body.room).toMatchObject({ blockedMe: true });

    expect((await as(server.url, tokenFor(minho)).post(`/api/rooms/${room.roomId}/block`)).status).toBe(204);
    expect(await roomAs(lena, room.roomId)).toMatchObject({ blockedByMe: true, blockedMe: true });

    expect((await as(server.url, tokenFor(lena)).delete(`/api/rooms/${room.roomId}/block`)).status).toBe(204);
    expect(await roomAs(lena, room.roomId)).toMatchObject({ blockedByMe: false, blockedMe: true });
    expect(await roomAs(minho, room.roomId)).toMatchObject({ blockedByMe: true, blockedMe: false });
  });
});
