import { randomUUID } from 'node:crypto';
import { keyEncryptionKeyId } from '../../../src/config';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { databaseKinds } from '../../support/databases';
import { as, eventually } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_DATA_KEY_ENCRYPTION_KEY, TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

/**
 * Message bodies reach the event store only sealed (AES-256-GCM under a data key of the
 * room and sender), on PostgreSQL and PGlite alike, and read back in the clear.
 */
describe.each(databaseKinds)('sealed message bodies on %s', (kind) => {
  let server: TestServer | null = null;
  let db: SqlDatabase | null = null;
  afterEach(async () => {
    await db?.close();
    db = null;
    await server?.close();
    server = null;
  });

  const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const up = async (database?: TestServer['database']) =>
    startTestServer(kind, { env: { DATA_KEY_ENCRYPTION_KEY: TEST_DATA_KEY_ENCRYPTION_KEY, SEND_RATE_LIMIT: '0' }, ...(database ? { database } : {}) });

  async function roomBetween(s: TestServer, lender: string, borrower: string): Promise<string> {
    const postId = fresh('post');
    expect((await as(s.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Tent' })).status).toBe(200);
    const opened = await as(s.url, tokenFor(borrower)).post('/api/rooms', { postId });
    expect(opened.status).toBe(201);
    return opened.body.room.roomId as string;
  }

  it('stores only ciphertext, under one wrapped key per room and sender, and reads the words back', async () => {
    server = await up();
    const [lena, bob] = [fresh('lena'), fresh('bob')];
    const roomId = await roomBetween(server, lena, bob);
    const secret = `my door code is ${randomUUID()}`;
    expect((await as(server.url, tokenFor(bob)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: secret })).status).toBe(201);
    const reply = `thanks ${randomUUID()}`;
    expect((await as(server.url, tokenFor(lena)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: reply })).status).toBe(201);

    const history = await as(server.url, tokenFor(lena)).get(`/api/rooms/${roomId}/messages`);
    expect(history.body.messages.map((m: { body: string }) => m.body)).toEqual([secret, reply]);

    // PGlite's data directory has one owner at a time: look at the tables with the server stopped.
    await server.close();
    db = await server.database.connect();
    const events = await db.query<{ type: string; data: string; metadata: { hashVersion?: number } }>(
      `SELECT event_type AS type, data::text AS data, metadata FROM events WHERE stream_id = $1 ORDER BY stream_revision`,
      [`room-${roomId}`],
    );
    const sent = events.rows.filter((e) => e.type === 'MessageSent');
    expect(sent).toHaveLength(2);
    for (const event of sent) {
      expect(event.data).not.toContain(secret);
      expect(event.data).not.toContain(reply);
      expect(JSON.parse(event.data)).toMatchObject({ sealedBody: { ciphertext: expect.stringMatching(/^v1\./) } });
      expect(JSON.parse(event.data)).not.toHaveProperty('body');
      expect(event.metadata.hashVersion).toBe(3);
    }
    const keys = await db.query<{ sender_id: string; kek_id: string; bytes: number }>(
      `SELECT sender_id, kek_id, length(wrapped_key) AS bytes FROM data_keys WHERE room_id = $1 ORDER BY sender_id`,
      [roomId],
    );
    const kekId = keyEncryptionKeyId(Buffer.from(TEST_DATA_KEY_ENCRYPTION_KEY, 'base64'));
    expect(keys.rows.map((k) => ({ ...k, bytes: Number(k.bytes) }))).toEqual(
      [bob, lena].sort().map((sender_id) => ({ sender_id, kek_id: kekId, bytes: 60 })),
    );
  });

  it('keeps no clear text in a room snapshot, and a send retried after a restart still gets its original back', async () => {
    server = await up();
    const database = server.database;
    const [lena, bob] = [fresh('lena'), fresh('bob')];
    const roomId = await roomBetween(server, lena, bob);
    const bodies: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 110; i += 1) {
      ids.push(randomUUID());
      bodies.push(`word ${i} ${randomUUID()}`);
      const sent = await as(server.url, tokenFor(bob)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: ids[i], body: bodies[i] });
      expect(sent.status).toBe(201);
    }
    const snapshot = async () =>
      (await db!.query<{ state: string }>(`SELECT state::text AS state FROM stream_snapshots WHERE stream_id = $1`, [`room-${roomId}`])).rows[0]?.state;
    if (kind === 'postgres') {
      db = await database.connect();
      await eventually(async () => (await snapshot()) !== undefined, 15_000, 'a snapshot of the room');
      await server.close();
    } else {
      // One owner at a time: stopped, the server's snapshot (written after the 100th event, ten sends ago) is there to read.
      await server.close();
      db = await database.connect();
    }
    const state = (await snapshot()) as string;
    expect(state).toContain('sealedBody');
    for (const body of bodies) expect(state).not.toContain(body);
    await db.close();
    db = null;

    server = await up(database);
    // Seq 90 is among the recent messages the snapshot (taken at the 100th event) sealed.
    const retried = await as(server.url, tokenFor(bob)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: ids[89], body: 'a different text' });
    expect(retried.status).toBe(200);
    expect(retried.body.message).toMatchObject({ seq: 90, body: bodies[89] });
  });
});
