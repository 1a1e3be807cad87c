import { randomBytes, randomUUID } from 'node:crypto';
import { keyEncryptionKeyId } from '../../../src/config';
import { runCli } from '../../support/auditCli';
import { createTestDatabase, withConnection, type TestDatabase } from '../../support/databases';
import { as } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_DATA_KEY_ENCRYPTION_KEY, TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

/**
 * Rotating DATA_KEY_ENCRYPTION_KEY: `npm run audit -- rewrap-keys` re-wraps every data key
 * under the newest key of the list, a batch at a time; stopped after one batch and run
 * again it finishes; the old key then leaves the list, and the service still reads every
 * message (PostgreSQL).
 */
describe('rewrap-keys (key-encryption key rotation)', () => {
  const OLD = TEST_DATA_KEY_ENCRYPTION_KEY;
  const NEW = randomBytes(32).toString('base64');
  const idOf = (key: string) => keyEncryptionKeyId(Buffer.from(key, 'base64'));
  let database: TestDatabase;
  let server: TestServer | null = null;
  afterAll(async () => {
    await server?.close();
    await database?.drop();
  });

  const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

  async function wrappedUnder(): Promise<Record<string, number>> {
    return withConnection(database, async (db) => {
      const rows = await db.query<{ kek_id: string; n: string }>(
        `SELECT kek_id, count(*)::text AS n FROM data_keys WHERE destroyed_at IS NULL GROUP BY kek_id`,
      );
      return Object.fromEntries(rows.rows.map((r) => [r.kek_id, Number(r.n)]));
    });
  }

  it('re-wraps every key, resumes after a stop, and the service reads everything under the new key alone', async () => {
    database = await createTestDatabase('postgres');
    server = await startTestServer('postgres', { database, env: { DATA_KEY_ENCRYPTION_KEY: OLD, SEND_RATE_LIMIT: '0' } });
    const rooms: Array<{ roomId: string; lender: string; borrower: string; bodies: string[] }> = [];
    for (let i = 0; i < 4; i += 1) {
      const [lender, borrower] = [fresh('lena'), fresh('bob')];
      const postId = fresh('post');
      expect((await as(server.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Kayak' })).status).toBe(200);
      const opened = await as(server.url, tokenFor(borrower)).post('/api/rooms', { postId });
      const roomId = opened.body.room.roomId as string;
      const bodies = [`from bob ${randomUUID()}`, `from lena ${randomUUID()}`];
      expect((await as(server.url, tokenFor(borrower)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: bodies[0] })).status).toBe(201);
      expect((await as(server.url, tokenFor(lender)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: bodies[1] })).status).toBe(201);
      rooms.push({ roomId, lender, borrower, bodies });
    }
    await server.close();
    server = null;
    expect(await wrappedUnder()).toEqual({ [idOf(OLD)]: 8 });

    // The new key first, the old one after it: one batch of 3, then stopped.
    const rotating = { DATA_KEY_ENCRYPTION_KEY: `${NEW},${OLD}` };
    const first = await runCli(database, ['rewrap-keys', '--batch', '3', '--max-batches', '1'], rotating);
    expect(first.stdout).toContain('STOPPED: re-wrapped 3 data keys; 5 still under older keys');
    expect(first.stderr).toContain('batch 1: re-wrapped 3 (3 so far), 5 left');
    expect(first.code).toBe(1);
    expect(await wrappedUnder()).toEqual({ [idOf(NEW)]: 3, [idOf(OLD)]: 5 });

    const second = await runCli(database, ['rewrap-keys', '--batch', '3'], rotating);
    expect(second.stdout).toContain(`DONE: re-wrapped 5 data keys; every live data key is wrapped under ${idOf(NEW)}`);
    expect(second.code).toBe(0);
    expect(await wrappedUnder()).toEqual({ [idOf(NEW)]: 8 });
    // Nothing left: running it again is harmless.
    expect((await runCli(database, ['rewrap-keys'], rotating)).stdout).toContain('DONE: re-wrapped 0 data keys');

    // The old key removed from the list: the service starts and every message reads.
    server = await startTestServer('postgres', { database, env: { DATA_KEY_ENCRYPTION_KEY: NEW, SEND_RATE_LIMIT: '0' } });
    for (const room of rooms) {
      const history = await as(server.url, tokenFor(room.lender)).get(`/api/rooms/${room.roomId}/messages`);
      expect(history.body.messages.map((m: { body: string; erased: boolean }) => [m.body, m.erased])).toEqual(room.bodies.map((b) => [b, false]));
    }
    const room = rooms[0] as (typeof rooms)[number];
    expect((await as(server.url, tokenFor(room.borrower)).post(`/api/rooms/${room.roomId}/messages`, { clientMessageId: randomUUID(), body: 'still here' })).status).toBe(201);
  });

  it('refuses, in one line, a list that no longer holds the key some data keys are wrapped under', async () => {
    const other = randomBytes(32).toString('base64');
    const db = await createTestDatabase('postgres');
    try {
      const s = await startTestServer('postgres', { database: db, env: { DATA_KEY_ENCRYPTION_KEY: OLD } });
      const [lender, borrower] = [fresh('lena'), fresh('bob')];
      const postId = fresh('post');
      await as(s.url, TEST_INTERNAL_TOKEN).put(`/api/internal/posts/${postId}`, { ownerId: lender, title: 'Tent' });
      const roomId = (await as(s.url, tokenFor(borrower)).post('/api/rooms', { postId })).body.room.roomId as string;
      await as(s.url, tokenFor(borrower)).post(`/api/rooms/${roomId}/messages`, { clientMessageId: randomUUID(), body: 'hi' });
      await s.close();
      const run = await runCli(db, ['rewrap-keys'], { DATA_KEY_ENCRYPTION_KEY: other });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`key-encryption key ${idOf(OLD)}, which DATA_KEY_ENCRYPTION_KEY does not hold`);
    } finally {
      await db.drop();
    }
  });
});
