import { randomBytes } from 'node:crypto';
import { DataKeys } from '../../../src/application/privacy/dataKeys';
import { KeyRing } from '../../../src/application/privacy/keyRing';
import { EventOpener } from '../../../src/application/privacy/openedEventStore';
import { ErasedUsers } from '../../../src/application/privacy/erasedUsers';
import { sealMessage } from '../../../src/application/privacy/roomEventSealing';
import type { RecordedEvent } from '../../../src/application/ports/eventStore';
import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { SqlDataKeyStore } from '../../../src/infrastructure/privacy/sqlDataKeyStore';
import { SqlSuspensions } from '../../../src/infrastructure/readModels/sqlSuspensions';
import type { SqlDatabase } from '../../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../support/databases';

/** The real database, with a count of the statements sent to it. */
function counting(db: SqlDatabase): SqlDatabase & { statements: number } {
  const counted = Object.create(db) as SqlDatabase & { statements: number };
  counted.statements = 0;
  counted.query = ((text: string, params?: unknown[]) => {
    counted.statements += 1;
    return db.query(text, params);
  }) as SqlDatabase['query'];
  return counted;
}

/**
 * What a send reads and makes besides its event, gathered: the data keys of a burst of
 * first messages are found or made in a few statements, and the suspension checks of
 * sends asked together share one read, with the same answers as one read each.
 */
describe.each(databaseKinds)('batched data keys and suspension checks on %s', (kind) => {
  let database: TestDatabase;
  let db: SqlDatabase;
  const ring = new KeyRing([{ id: 'kek-1', key: randomBytes(32) }]);
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    db = await database.connect();
    await migrateDatabase(db);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  it('makes one live key per room and sender when two processes ask for the same keys at once', async () => {
    const sql = counting(db);
    const [a, b] = [new DataKeys(new SqlDataKeyStore(sql), ring), new DataKeys(new SqlDataKeyStore(sql), ring)];
    const slots = Array.from({ length: 40 }, (_, i) => ({ roomId: `room-${i % 10}`, senderId: `user-${i}` }));
    const [fromA, fromB] = await Promise.all([
      Promise.all(slots.map((s) => a.keyFor(s.roomId, s.senderId))),
      Promise.all(slots.map((s) => b.keyFor(s.roomId, s.senderId))),
    ]);
    for (let i = 0; i < slots.length; i += 1) {
      expect(fromA[i]?.keyId).toBe(fromB[i]?.keyId);
      expect(fromA[i]?.key.equals(fromB[i]?.key as Buffer)).toBe(true);
    }
    expect(new Set(fromA.map((k) => k.keyId)).size).toBe(slots.length);
    const live = await db.query<{ n: string | number }>(`SELECT count(*) AS n FROM data_keys WHERE destroyed_at IS NULL`);
    expect(Number(live.rows[0]?.n)).toBe(slots.length);
    // 80 asks, each a find and maybe an insert and a find one at a time before: far fewer now.
    expect(sql.statements).toBeLessThan(10);
    // A third process finds them all, with the same keys.
    const c = new DataKeys(new SqlDataKeyStore(db), ring);
    const fromC = await Promise.all(slots.map((s) => c.keyFor(s.roomId, s.senderId)));
    expect(fromC.map((k) => k.keyId)).toEqual(fromA.map((k) => k.keyId));
  });

  it('reads back a body it sealed without decrypting it, and still shows it erased once its key is destroyed', async () => {
    const keys = new DataKeys(new SqlDataKeyStore(db), ring);
    const key = await keys.keyFor('room-shred', 'ana');
    const data = { roomId: 'room-shred', seq: 1, messageId: 'm-1', senderId: 'ana', body: 'door code 4711', clientMessageId: 'c-1', sentAt: new Date(0).toISOString() };
    const stored = sealMessage(data as never, key);
    keys.noteSealed(stored.sealedBody, data.messageId, key, data.body);
    const event = { streamId: 'room-room-shred', type: 'MessageSent', data: stored } as unknown as RecordedEvent;
    const opener = new EventOpener(keys, new ErasedUsers());
    expect((await opener.openOne(event)).data).toMatchObject({ body: 'door code 4711' });
    // The same words under a copied ciphertext bound to another message are not taken from the note.
    const moved = { ...event, data: { ...stored, messageId: 'm-2' } } as unknown as RecordedEvent;
    expect((await opener.openOne(moved)).data).toMatchObject({ body: '', erased: true });
    await keys.destroyRoomKeys('room-shred');
    expect((await opener.openOne(event)).data).toMatchObject({ body: '', erased: true });
  });

  it('opens an event at once when its key is cached, as openOne would, and leaves a destroyed key to the store', async () => {
    const sql = counting(db);
    const keys = new DataKeys(new SqlDataKeyStore(sql), ring);
    const key = await keys.keyFor('room-at-hand', 'ana');
    const data = { roomId: 'room-at-hand', seq: 1, messageId: 'm-9', senderId: 'ana', body: 'see you at 6', clientMessageId: 'c-9', sentAt: new Date(0).toISOString() };
    const event = { streamId: 'room-room-at-hand', type: 'MessageSent', data: sealMessage(data as never, key) } as unknown as RecordedEvent;
    const erased = new ErasedUsers();
    const opener = new EventOpener(keys, erased);
    const before = sql.statements;
    expect(opener.openAtHand(event)?.data).toEqual((await opener.openOne(event)).data);
    expect(opener.openAtHand(event)?.data).toMatchObject({ body: 'see you at 6' });
    expect(sql.statements).toBe(before);
    // A destroyed key is never at hand: the store is asked, and the message reads erased.
    await keys.destroyRoomKeys('room-at-hand');
    expect(opener.openAtHand(event)).toBeUndefined();
    expect((await opener.openOne(event)).data).toMatchObject({ body: '', erased: true });
    // An erased sender's message reads erased at once, whatever key is cached.
    const other = await keys.keyFor('room-at-hand-2', 'bo');
    const fromBo = { ...event, data: sealMessage({ ...data, roomId: 'room-at-hand-2', senderId: 'bo' } as never, other) } as unknown as RecordedEvent;
    erased.add('bo');
    expect(opener.openAtHand(fromBo)?.data).toMatchObject({ body: '', erased: true });
  });

  it('answers each suspension check as a read of its own would, in one read for checks asked together', async () => {
    const now = new Date();
    const later = new Date(now.getTime() + 60_000);
    const earlier = new Date(now.getTime() - 60_000);
    await db.query(
      `INSERT INTO rm_suspensions (user_id, until, reason, suspended_by, suspended_at) VALUES
         ('banned', NULL, 'spam', 'mod', $1), ('paused', $2, 'spam', 'mod', $1), ('served', $3, 'spam', 'mod', $1)`,
      [earlier.toISOString(), later.toISOString(), earlier.toISOString()],
    );
    const sql = counting(db);
    const suspensions = new SqlSuspensions(sql);
    const users = ['banned', 'paused', 'served', 'free', 'banned', 'free'];
    const answers = await Promise.all(users.map((u) => suspensions.activeSuspension(u, now)));
    expect(answers).toEqual([{ until: null }, { until: later.toISOString() }, null, null, { until: null }, null]);
    expect(sql.statements).toBe(1);
    // Past its end, a suspension no longer holds.
    expect(await suspensions.activeSuspension('paused', new Date(later.getTime() + 1))).toBeNull();
    // A suspension committed after a check was answered holds for the next check.
    await db.query(`INSERT INTO rm_suspensions (user_id, until, reason, suspended_by, suspended_at) VALUES ('free', NULL, 'spam', 'mod', $1)`, [now.toISOString()]);
    expect(await suspensions.activeSuspension('free', now)).toEqual({ until: null });
  });
});
