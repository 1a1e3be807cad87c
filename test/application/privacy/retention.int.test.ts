import { randomUUID } from 'node:crypto';
import { createTestDatabase, withConnection } from '../../support/databases';
import { aPng } from '../../support/images';
import { as, eventually } from '../../support/http';
import { RecordingLogger } from '../../support/logger';
import { ManualClock, startTestServer, type TestServer } from '../../support/server';
import { HOUR, MINUTE } from '../../support/time';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';
import { HttpReceiver, newWebhookSecret } from '../../support/webhookReceiver';

/**
 * MESSAGE_RETENTION on a clock the test moves: two server processes on one PostgreSQL
 * database sweep every second; a room quiet for longer than the retention has its
 * messages erased once (one RoomRetentionElapsed between the two), by destroying its data
 * keys; the read models, the room list and the webhook outbox keep no clear text of it;
 * a room that spoke since is kept; the room goes on, with new keys, in both processes.
 */
describe('message retention (two processes, PostgreSQL)', () => {
  const clock = new ManualClock();
  let a: TestServer;
  let b: TestServer;
  let receiver: HttpReceiver;
  const logger = new RecordingLogger();

  beforeAll(async () => {
    // Every delivery is refused, so the webhooks of the messages wait in the outbox with their words.
    receiver = await HttpReceiver.start();
    receiver.answer = () => ({ status: 503 });
    const database = await createTestDatabase('postgres');
    const env = {
      EXPIRY_SWEEP_CRON: '* * * * * *',
      MESSAGE_RETENTION: '2h',
      ROOM_IDLE_TTL: '30d',
      SEND_RATE_LIMIT: '0',
      WEBHOOK_URL: `${receiver.url}/hook`,
      WEBHOOK_SECRET: newWebhookSecret(),
      WEBHOOK_INCLUDE_BODY: 'true',
    };
    a = await startTestServer('postgres', { clock, env, database, logger });
    b = await startTestServer('postgres', { clock, env, database });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await receiver?.close();
    await a?.database.drop();
  });

  const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const user = (s: TestServer, id: string) => as(s.url, tokenFor(id));

  async function roomBetween(lender: string, borrower: string): Promise<string> {
    const postId = fresh('post');
    expect((await as(a.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Ladder' })).status).toBe(200);
    const opened = await user(a, borrower).post('/api/rooms', { postId });
    expect(opened.status).toBe(201);
    return opened.body.room.roomId as string;
  }

  async function send(s: TestServer, who: string, roomId: string, body: string): Promise<void> {
    expect((await user(s, who).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body })).status).toBe(201);
  }

  type Shown = { seq: number; senderId: string; body: string; erased: boolean; attachments: unknown[] };
  const history = async (s: TestServer, who: string, roomId: string): Promise<Shown[]> =>
    (await user(s, who).get(`/api/rooms/${roomId}/messages?limit=100`)).body.messages;

  async function streamTypes(roomId: string): Promise<string[]> {
    const db = await a.database.connect();
    try {
      const rows = await db.query<{ type: string }>(`SELECT event_type AS type FROM events WHERE stream_id = $1 ORDER BY stream_revision`, [`room-${roomId}`]);
      return rows.rows.map((r) => r.type);
    } finally {
      await db.close();
    }
  }

  it('erases every message of a room quiet for longer than the retention, once, and keeps the rest', async () => {
    const [lena, bob, kim, joe] = [fresh('lena'), fresh('bob'), fresh('kim'), fresh('joe')];
    const old = await roomBetween(lena, bob);
    const secrets = [`gate code ${randomUUID()}`, `my address ${randomUUID()}`, `phone ${randomUUID()}`];
    await send(a, bob, old, secrets[0] as string);
    await send(b, lena, old, secrets[1] as string);
    await send(a, bob, old, secrets[2] as string);
    // Both processes have read the room (and hold its keys in their caches).
    expect((await history(b, lena, old)).map((m) => m.body)).toEqual(secrets);
    expect((await history(a, bob, old)).map((m) => m.body)).toEqual(secrets);
    // The webhooks of those messages wait in the outbox, with their words.
    await eventually(async () => {
      const db = await a.database.connect();
      try {
        const rows = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM notify_outbox WHERE ordering_key = $1 AND type = 'message.created'`, [old]);
        return Number(rows.rows[0]?.n) === 3;
      } finally {
        await db.close();
      }
    }, 10_000, 'three message webhooks in the outbox');

    clock.advance(HOUR);
    const recent = await roomBetween(kim, joe);
    const kept = `see you at noon ${randomUUID()}`;
    await send(a, kim, recent, kept);

    // The old room's last message is now 2h01m old; the recent room's 1h01m.
    clock.advance(HOUR + MINUTE);
    await eventually(async () => (await history(a, lena, old)).every((m) => m.erased), 15_000, 'the old room erased');

    const erased = await history(b, bob, old);
    expect(erased.map((m) => ({ seq: m.seq, senderId: m.senderId, body: m.body, erased: m.erased }))).toEqual([
      { seq: 1, senderId: bob, body: '', erased: true },
      { seq: 2, senderId: lena, body: '', erased: true },
      { seq: 3, senderId: bob, body: '', erased: true },
    ]);
    const listed = (await user(a, lena).get('/api/rooms?limit=100')).body.rooms.find((r: { roomId: string }) => r.roomId === old);
    expect(listed.lastMessage).toMatchObject({ seq: 3, body: '', erased: true });
    expect((await history(a, kim, recent)).map((m) => ({ body: m.body, erased: m.erased }))).toEqual([{ body: kept, erased: false }]);

    // Several more sweeps in both processes: still one event, and none in the room that spoke.
    const sweeps = () => logger.lines.filter((l) => l.message.startsWith('expiry sweep finished')).length;
    const before = sweeps();
    await eventually(async () => sweeps() >= before + 3, 10_000, 'three more sweeps');
    expect((await streamTypes(old)).filter((t) => t === 'RoomRetentionElapsed')).toHaveLength(1);
    expect(await streamTypes(recent)).not.toContain('RoomRetentionElapsed');

    const db = await a.database.connect();
    try {
      const keys = await db.query<{ live: boolean }>(`SELECT destroyed_at IS NULL AS live FROM data_keys WHERE room_id = $1`, [old]);
      expect(keys.rows.length).toBeGreaterThan(0);
      expect(keys.rows.every((k) => !k.live)).toBe(true);
      const event = await db.query<{ data: Record<string, unknown>; metadata: Record<string, unknown> }>(
        `SELECT data, metadata FROM events WHERE stream_id = $1 AND event_type = 'RoomRetentionElapsed'`,
        [`room-${old}`],
      );
      expect(event.rows[0]?.data).toMatchObject({ roomId: old, upToSeq: 3, retentionMs: 2 * HOUR });
      expect(event.rows[0]?.metadata).toMatchObject({ actorId: 'system:scheduler' });
      // No table holds the words in the clear: read models, snapshots, outbox (the events hold them sealed).
      for (const table of ['rm_messages', 'rm_rooms', 'stream_snapshots', 'notify_outbox', 'events']) {
        const dump = await db.query<{ t: string }>(`SELECT coalesce(string_agg(x::text, ' '), '') AS t FROM ${table} x`);
        for (const secret of secrets) expect(`${table}: ${dump.rows[0]?.t ?? ''}`).not.toContain(secret);
      }
      const outbox = await db.query<{ body: string }>(`SELECT body FROM notify_outbox WHERE ordering_key = $1 AND type = 'message.created'`, [old]);
      expect(outbox.rows).toHaveLength(3);
      for (const row of outbox.rows) expect(JSON.parse(row.body).data).not.toHaveProperty('body');
    } finally {
      await db.close();
    }

    // The audit record verifies as before: the event store is append-only.
    const audit = await as(a.url, tokenFor(fresh('auditor'), { roles: ['auditor'] })).get(`/api/audit/rooms/${old}/events`);
    expect(audit.status).toBe(200);
    expect(audit.body.verified).toBe(true);
  });

  it('deletes the photos sent, and goes on after the retention: a new message gets a new key, in the process that had the old one cached too', async () => {
    const [lena, bob] = [fresh('lena'), fresh('bob')];
    const roomId = await roomBetween(lena, bob);
    // A photo goes with the first message: the retention deletes it too.
    const uploaded = await fetch(`${b.url}/api/rooms/${roomId}/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenFor(bob)}`, 'content-type': 'image/png' },
      body: new Uint8Array(await aPng(64, 48)),
    });
    expect(uploaded.status).toBe(201);
    const attachmentId = ((await uploaded.json()) as { attachment: { attachmentId: string } }).attachment.attachmentId;
    const sent = await user(b, bob).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'before', attachments: [attachmentId] });
    expect(sent.status).toBe(201);
    expect((await history(b, bob, roomId)).map((m) => [m.body, m.attachments.length])).toEqual([['before', 1]]);
    const photoRows = () =>
      withConnection(a.database, async (db) => {
        const rows = await db.query<{ n: string }>(
          `SELECT ((SELECT count(*) FROM attachments WHERE attachment_id::text = $1) + (SELECT count(*) FROM attachment_blobs WHERE key LIKE $2)
                   + (SELECT count(*) FROM attachment_blob_parts WHERE key LIKE $2))::text AS n`,
          [attachmentId, `%${attachmentId}%`],
        );
        return Number(rows.rows[0]?.n);
      });
    // The record, two renditions, and a part of each (a small PNG).
    expect(await photoRows()).toBe(5);
    clock.advance(2 * HOUR + MINUTE);
    await eventually(async () => (await history(b, bob, roomId))[0]?.erased === true, 15_000, 'the room erased');
    expect((await history(b, bob, roomId))[0]?.attachments).toEqual([]);
    await eventually(async () => (await photoRows()) === 0, 10_000, 'the photo deleted, bytes and record');

    const after = `after ${randomUUID()}`;
    await send(b, bob, roomId, after);
    await send(a, lena, roomId, 'and me');
    for (const s of [a, b]) {
      expect((await history(s, lena, roomId)).map((m) => ({ seq: m.seq, body: m.body, erased: m.erased }))).toEqual([
        { seq: 1, body: '', erased: true },
        { seq: 2, body: after, erased: false },
        { seq: 3, body: 'and me', erased: false },
      ]);
    }
  });
});
