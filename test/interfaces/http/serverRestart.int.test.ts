import { randomUUID } from 'node:crypto';
import { systemClock } from '../../../src/application/ports/clock';
import { randomIds } from '../../../src/application/ports/ids';
import { silentLogger } from '../../../src/application/ports/logger';
import { makeRoomCommands } from '../../../src/application/room/roomCommands';
import { PostgresEventStore } from '../../../src/infrastructure/eventStore/postgresEventStore';
import { chatProjection } from '../../../src/infrastructure/readModels/chatProjection';
import { ProjectionRunner } from '../../../src/infrastructure/readModels/projectionRunner';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, withConnection, type TestDatabase } from '../../support/databases';
import { as, eventually } from '../../support/http';
import { auditProjection, seqsAreContiguous, snapshotReadModels } from '../../support/readModels';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { openedTestStore } from '../../support/privacy';

/** The projection's name in the server (see the container): a rebuild must use the same one. */
const PROJECTION = 'chat_read_models';

/**
 * One database, several server lifetimes: what a restart keeps, what happens to events
 * written while no server (no projection) ran, expiry and reopening, and a rebuild of
 * the read models from the events. The tests run in order on the same data.
 */
describe.each(databaseKinds)('a server restarted on the same %s database', (kind) => {
  let database: TestDatabase;
  let server: TestServer | null = null;
  const id = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const lena = id('lena');
  const bob = id('bob');
  const carol = id('carol');
  const drillPost = id('drill');
  const tentPost = id('tent');
  let drillRoom: string;
  let tentRoom: string;

  const user = (who: string) => as((server as TestServer).url, tokenFor(who));
  const send = (who: string, roomId: string, body: string, headers: Record<string, string> = {}) =>
    user(who).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body }, { headers });
  const ready = async () => {
    await eventually(async () => (await fetch(`${(server as TestServer).url}/readyz`)).status === 200, 15_000, 'readyz');
  };
  const offline = <T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> => withConnection(database, work);

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await server?.close();
    await database?.drop();
  });

  it('keeps every post, room, message, read mark and block across a restart', async () => {
    server = await startTestServer(kind, { database });
    const marketplace = as(server.url, TEST_INTERNAL_TOKEN);
    expect((await marketplace.put(`/api/internal/posts/${drillPost}`, { ownerId: lena, title: 'Drill' })).status).toBe(200);
    expect((await marketplace.put(`/api/internal/posts/${tentPost}`, { ownerId: lena, title: 'Tent' })).status).toBe(200);
    drillRoom = (await user(bob).post('/api/rooms', { postId: drillPost })).body.room.roomId;
    tentRoom = (await user(carol).post('/api/rooms', { postId: tentPost })).body.room.roomId;
    expect((await send(bob, drillRoom, 'Is it free on Saturday?', { 'x-request-id': `story-${kind}-1` })).status).toBe(201);
    await send(lena, drillRoom, 'Yes');
    await send(bob, drillRoom, 'Great');
    await send(carol, tentRoom, 'Does it fit 4?');
    expect((await user(lena).post(`/api/rooms/${drillRoom}/read`, { upToSeq: 1 })).status).toBe(204);
    expect((await user(lena).post(`/api/rooms/${tentRoom}/block`)).status).toBe(204);

    const views = async () => ({
      post: (await user(bob).get(`/api/posts/${drillPost}`)).body,
      lenaRooms: (await user(lena).get('/api/rooms')).body,
      bobRooms: (await user(bob).get('/api/rooms')).body,
      carolRooms: (await user(carol).get('/api/rooms')).body,
      drillMessages: (await user(lena).get(`/api/rooms/${drillRoom}/messages`)).body,
      tentMessages: (await user(carol).get(`/api/rooms/${tentRoom}/messages`)).body,
    });
    const before = await views();
    expect(before.lenaRooms.rooms).toHaveLength(2);
    await server.close();

    server = await startTestServer(kind, { database });
    await ready();
    expect(await views()).toEqual(before);
    // The block is still in force after the restart.
    expect((await send(carol, tentRoom, 'hello?')).status).toBe(403);
    expect((await user(lena).delete(`/api/rooms/${tentRoom}/block`)).status).toBe(204);
    await server.close();
    server = null;
  });

  it('projects, once each, the events written while no server was running', async () => {
    // Another writer appends with no projection running anywhere: the events are stored,
    // the read models know nothing of them.
    const behind = await offline(async (db) => {
      const commands = makeRoomCommands({ eventStore: new PostgresEventStore(db), clock: systemClock, ids: randomIds });
      const actor = (userId: string) => ({ userId, correlationId: 'offline-writer' });
      for (let i = 1; i <= 5; i += 1) await commands.sendMessage({ roomId: drillRoom, clientMessageId: `offline-${i}`, body: `offline ${i}` }, actor(bob));
      await commands.markRead(drillRoom, 4, actor(lena));
      await commands.sendMessage({ roomId: tentRoom, clientMessageId: 'offline-t', body: 'still there?' }, actor(carol));
      return auditProjection(db);
    });
    expect(behind.events.length - behind.rows.length).toBe(6);

    server = await startTestServer(kind, { database });
    await ready();
    const drill = await user(lena).get(`/api/rooms/${drillRoom}/messages`);
    expect(drill.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(drill.body.messages.slice(3).map((m: { body: string }) => m.body)).toEqual(['offline 1', 'offline 2', 'offline 3', 'offline 4', 'offline 5']);
    // Counters an event bumps show a double application at once: read up to 4, so 5..8 are unread.
    expect((await user(lena).get(`/api/rooms/${drillRoom}`)).body.room).toMatchObject({
      unreadCount: 4,
      lastReadSeq: { [lena]: 4, [bob]: 0 },
      lastMessage: { seq: 8, body: 'offline 5' },
    });
    expect((await user(bob).get(`/api/rooms/${drillRoom}`)).body.room.unreadCount).toBe(1);
    expect((await user(lena).get(`/api/rooms/${tentRoom}`)).body.room).toMatchObject({ unreadCount: 2, lastMessage: { seq: 2 } });
    await server.close();
    server = null;

    const audit = await offline((db) => auditProjection(db));
    expect(audit.rows).toEqual(audit.events);
    expect(seqsAreContiguous(audit.rows)).toBe(true);
    expect(audit.wrongUnread).toEqual([]);
    expect(audit.wrongLastSeq).toEqual([]);
  });

  it('expires a room: it leaves both lists, refuses sends with room_expired, and opening it again reopens it', async () => {
    const expired = await offline(async (db) => {
      const commands = makeRoomCommands({ eventStore: new PostgresEventStore(db), clock: systemClock, ids: randomIds });
      return commands.expireRoom(tentRoom, { emptyTtlMs: 1, idleTtlMs: 1 }, 'test-expiry');
    });
    expect(expired.expired).toBe(true);

    server = await startTestServer(kind, { database });
    await ready();
    const listed = async (who: string) => (await user(who).get('/api/rooms')).body.rooms.map((r: { roomId: string }) => r.roomId);
    expect(await listed(lena)).toEqual([drillRoom]);
    expect(await listed(carol)).toEqual([]);
    expect((await user(carol).get(`/api/rooms/${tentRoom}`)).body.room.status).toBe('expired');

    for (const who of [carol, lena]) {
      const refused = await send(who, tentRoom, 'anyone?');
      expect(refused.status).toBe(409);
      expect(refused.body).toEqual({ error: { code: 'room_expired', message: expect.any(String) } });
    }
    // History stays readable while expired.
    expect((await user(carol).get(`/api/rooms/${tentRoom}/messages`)).body.messages).toHaveLength(2);

    const reopened = await user(carol).post('/api/rooms', { postId: tentPost });
    expect(reopened.status).toBe(201);
    expect(reopened.body.room).toMatchObject({ roomId: tentRoom, status: 'open' });
    expect(reopened.body.messages.map((m: { body: string }) => m.body)).toEqual(['Does it fit 4?', 'still there?']);
    expect((await user(carol).post('/api/rooms', { postId: tentPost })).status).toBe(200);
    expect((await send(carol, tentRoom, 'back again')).body.message.seq).toBe(3);
    expect(await listed(lena)).toEqual([tentRoom, drillRoom]);
    await server.close();
    server = null;
  });

  it('records the request id of each call as the correlationId of its events', async () => {
    const events = await offline((db) =>
      db.query<{ type: string; actor: string }>(
        `SELECT event_type AS type, metadata->>'actorId' AS actor FROM events WHERE metadata->>'correlationId' = $1`,
        [`story-${kind}-1`],
      ),
    );
    expect(events.rows).toEqual([{ type: 'MessageSent', actor: bob }]);
  });

  it('rebuilds the read models from the events, row for row', async () => {
    await offline(async (db) => {
      // Read as the server reads it: the message bodies it sealed, opened.
      const eventStore = await openedTestStore(db, new PostgresEventStore(db));
      const runner = new ProjectionRunner({ projection: { ...chatProjection, name: PROJECTION }, db, eventStore, logger: silentLogger });
      const before = await snapshotReadModels(db);
      const checkpoint = await runner.checkpoint();
      expect(before.rm_messages?.length).toBeGreaterThan(5);
      // Damage the read models, so a rebuild that did nothing could not pass.
      await db.query(`DELETE FROM rm_messages WHERE seq = 2`);
      await db.query(`UPDATE rm_room_members SET unread_count = unread_count + 7`);
      await db.query(`UPDATE rm_rooms SET status = 'expired', blocks = '{"x":"y"}'::jsonb`);

      await runner.rebuild();

      expect(await snapshotReadModels(db)).toEqual(before);
      expect(await runner.checkpoint()).toBe(checkpoint);
    });

    // And a server started on the rebuilt tables answers as before.
    server = await startTestServer(kind, { database });
    await ready();
    expect((await user(lena).get(`/api/rooms/${drillRoom}`)).body.room).toMatchObject({ unreadCount: 4, lastMessage: { seq: 8 } });
    expect((await user(carol).get(`/api/rooms/${tentRoom}/messages`)).body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3]);
  });
});
