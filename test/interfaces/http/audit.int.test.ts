import { randomUUID } from 'node:crypto';
import { NO_PREVIOUS_HASH } from '../../../src/application/ports/eventStore';
import { databaseKinds, withConnection } from '../../support/databases';
import { as, call } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { tamperWithEvents } from '../../support/tamper';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

describe.each(databaseKinds)('the audit record over HTTP on %s', (kind) => {
  let server: TestServer;
  const lena = `lena-${randomUUID().slice(0, 8)}`;
  const bob = `bob-${randomUUID().slice(0, 8)}`;
  let roomId: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const postId = `post-${randomUUID().slice(0, 8)}`;
    await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lena, title: 'Tent' });
    roomId = (await as(server.url, tokenFor(bob)).post('/api/rooms', { postId })).body.room.roomId;
    await as(server.url, tokenFor(bob)).post(
      `/api/rooms/${roomId}/messages`,
      { clientMessageId: 'c-1', body: 'Is the tent waterproof?' },
      { headers: { 'x-request-id': 'audit-req-1' } },
    );
    await as(server.url, tokenFor(lena)).post(`/api/rooms/${roomId}/read`, { upToSeq: 1 });
    await as(server.url, tokenFor(lena)).post(`/api/rooms/${roomId}/block`);
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
  });

  const asAuditor = () => as(server.url, tokenFor(`auditor-${randomUUID().slice(0, 4)}`, { roles: ['auditor'] }));

  it('gives an auditor every event of the room, in order, with its metadata and a verified hash chain', async () => {
    const res = await asAuditor().get(`/api/audit/rooms/${roomId}/events`);
    expect(res.status).toBe(200);
    expect(res.body.verified).toBe(true);
    const events = res.body.events as Array<{ streamRevision: number; globalPosition: number; type: string; data: { roomId: string }; metadata: Record<string, string> }>;
    expect(events.map((e) => e.type)).toEqual(['RoomOpened', 'MessageSent', 'MessagesRead', 'RoomBlocked']);
    expect(events.map((e) => e.streamRevision)).toEqual([0, 1, 2, 3]);
    expect(events.every((e) => typeof e.globalPosition === 'number')).toBe(true);
    expect(events.every((e) => e.data.roomId === roomId)).toBe(true);
    expect(events.map((e) => e.metadata.actorId)).toEqual([bob, bob, lena, lena]);
    expect(events[1]?.metadata.correlationId).toBe('audit-req-1');
    expect(events[0]?.metadata.prevHash).toBe(NO_PREVIOUS_HASH);
    for (let i = 1; i < events.length; i += 1) expect(events[i]?.metadata.prevHash).toBe(events[i - 1]?.metadata.hash);
    for (const event of events) {
      expect(event.metadata.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(typeof event.metadata.causationId).toBe('string');
      expect(Number.isNaN(Date.parse(event.metadata.recordedAt as string))).toBe(false);
    }
  });

  it('refuses a participant without the auditor role with 403, and no token with 401', async () => {
    const participant = await as(server.url, tokenFor(lena)).get(`/api/audit/rooms/${roomId}/events`);
    expect(participant.status).toBe(403);
    expect(participant.body.error.code).toBe('forbidden');
    const anonymous = await call(server.url, 'GET', `/api/audit/rooms/${roomId}/events`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('unauthorized');
  });

  it('answers 404 for a room that does not exist and 400 for a malformed id', async () => {
    const missing = await asAuditor().get(`/api/audit/rooms/${randomUUID()}/events`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const malformed = await asAuditor().get('/api/audit/rooms/not-a-room/events');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toMatch(/^roomId: /);
  });

  it('streams the same events as JSON Lines with ?format=jsonl, each with its event id', async () => {
    const json = await asAuditor().get(`/api/audit/rooms/${roomId}/events`);
    const res = await asAuditor().get(`/api/audit/rooms/${roomId}/events?format=jsonl`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/jsonl; charset=utf-8');
    const lines = res.text.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(lines).toEqual(json.body.events);
    expect(lines.every((e) => /^[0-9a-f-]{36}$/.test(e.eventId) && e.streamId === `room-${roomId}`)).toBe(true);
    const missing = await asAuditor().get(`/api/audit/rooms/${randomUUID()}/events?format=jsonl`);
    expect(missing.status).toBe(404);
    const badFormat = await asAuditor().get(`/api/audit/rooms/${roomId}/events?format=csv`);
    expect(badFormat.status).toBe(400);
    expect(badFormat.body.error.message).toBe('format: must be "json" or "jsonl"');
  });

  it('shows the room as it stood at an instant with /state?at=', async () => {
    const events = (await asAuditor().get(`/api/audit/rooms/${roomId}/events`)).body.events as Array<{ metadata: { recordedAt: string } }>;
    const afterMessage = events[1]?.metadata.recordedAt as string;
    const then = await asAuditor().get(`/api/audit/rooms/${roomId}/state?at=${encodeURIComponent(afterMessage)}`);
    expect(then.status).toBe(200);
    expect(then.body.room).toMatchObject({ roomId, status: 'open', participants: [lena, bob], blocks: [], asOfRevision: 1 });
    expect(then.body.room.messages.map((m: { body: string }) => m.body)).toEqual(['Is the tent waterproof?']);
    const now = await asAuditor().get(`/api/audit/rooms/${roomId}/state?at=2100-01-01T00:00:00Z`);
    expect(now.body.room.blocks).toEqual([{ blockerId: lena, blockedId: bob }]);
    expect(now.body.room.lastReadSeq[lena]).toBe(1);

    const before = await asAuditor().get(`/api/audit/rooms/${roomId}/state?at=2000-01-01T00:00:00Z`);
    expect(before.status).toBe(404);
    expect(before.body.error.message).toMatch(/was not open yet at 2000-01-01T00:00:00.000Z$/);
    const badAt = await asAuditor().get(`/api/audit/rooms/${roomId}/state?at=yesterday`);
    expect(badAt.status).toBe(400);
    expect(badAt.body.error.message).toMatch(/^at: must be an ISO-8601 time/);
    const noAt = await asAuditor().get(`/api/audit/rooms/${roomId}/state`);
    expect(noAt.status).toBe(400);
    const participant = await as(server.url, tokenFor(lena)).get(`/api/audit/rooms/${roomId}/state?at=2100-01-01T00:00:00Z`);
    expect(participant.status).toBe(403);
    const verifyAsParticipant = await as(server.url, tokenFor(lena)).get('/api/audit/verify');
    expect(verifyAsParticipant.status).toBe(403);
  });

  it('verifies every stream for an auditor with /api/audit/verify, and one room with ?room=', async () => {
    const all = await asAuditor().get('/api/audit/verify');
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ verified: true, failures: [] });
    expect(all.body.streams).toBeGreaterThanOrEqual(3);
    const one = await asAuditor().get(`/api/audit/verify?room=${roomId}`);
    expect(one.body).toMatchObject({ verified: true, streams: 1, events: 4 });
    const unknown = await asAuditor().get(`/api/audit/verify?room=${randomUUID()}`);
    expect(unknown.status).toBe(404);
  });

  it('reports verified: false once a stored event has been altered', async () => {
    // Edited as the table's owner could, with the append-only trigger switched off, while
    // no server runs: PGlite's data directory belongs to one process at a time.
    await server.close();
    await withConnection(server.database, (owner) => tamperWithEvents(owner, (db) =>
      db.query(
        `UPDATE events SET data = jsonb_set(data, '{body}', '"Is the tent on fire?"')
          WHERE stream_id = $1 AND event_type = 'MessageSent'`,
        [`room-${roomId}`],
      ),
    ));
    server = await startTestServer(kind, { database: server.database });
    const res = await asAuditor().get(`/api/audit/rooms/${roomId}/events`);
    expect(res.status).toBe(200);
    expect(res.body.verified).toBe(false);
    expect(res.body.events.find((e: { type: string }) => e.type === 'MessageSent')?.data.body).toBe('Is the tent on fire?');
  });
});
