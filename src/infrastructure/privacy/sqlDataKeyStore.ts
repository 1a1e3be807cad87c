import type { DataKeyStore, WrappedDataKey } from '../../application/ports/dataKeys';
import type { SqlDatabase } from '../sql/sqlDatabase';
import { SenderErasedError } from '../../application/privacy/erasedUsers';

interface Row {
  key_id: string;
  room_id: string;
  sender_id: string;
  kek_id: string;
  wrapped_key: Buffer | Uint8Array;
}

const COLUMNS = 'key_id::text, room_id, sender_id, kek_id, wrapped_key';

/**
 * The data keys in a table of their own (PostgreSQL or PGlite; migration 10), whatever
 * store holds the events. A destroyed key keeps its row as a tombstone (who, which room, when) with the
 * wrapped bytes and the key-encryption key id cleared: the key itself is gone.
 */
export class SqlDataKeyStore implements DataKeyStore {
  constructor(private readonly db: SqlDatabase) {}

  async findLive(roomId: string, senderId: string): Promise<WrappedDataKey | null> {
    const result = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM data_keys WHERE room_id = $1 AND sender_id = $2 AND destroyed_at IS NULL`,
      [roomId, senderId],
    );
    const row = result.rows[0];
    return row === undefined ? null : toKey(row);
  }

  async insertLive(key: WrappedDataKey): Promise<WrappedDataKey> {
    await this.db.query(
      // Never for a user whose erasure was asked for (a process that has not heard of it yet).
      `INSERT INTO data_keys (key_id, room_id, sender_id, kek_id, wrapped_key)
       SELECT $1::uuid, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM user_erasures WHERE user_id = $3)
       ON CONFLICT (room_id, sender_id) WHERE destroyed_at IS NULL DO NOTHING`,
      [key.keyId, key.roomId, key.senderId, key.kekId, key.wrapped],
    );
    const live = await this.findLive(key.roomId, key.senderId);
    if (live === null) throw new SenderErasedError(key.senderId);
    return live;
  }

  async findOrInsertLive(fresh: readonly WrappedDataKey[]): Promise<WrappedDataKey[]> {
    if (fresh.length === 0) return [];
    // Inserted rows come back from the insert; rows live before the statement from the
    // select (it does not see this statement's own inserts). A key made by another
    // process after this statement began is in neither: read on its own below (rare).
    const result = await this.db.query<Row>(
      `WITH fresh AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS f(key_id, room_id, sender_id, kek_id, wrapped_hex)
       ), inserted AS (
         INSERT INTO data_keys (key_id, room_id, sender_id, kek_id, wrapped_key)
         SELECT key_id, room_id, sender_id, kek_id, decode(wrapped_hex, 'hex') FROM fresh
          -- Never for a user whose erasure was asked for (a process that has not heard of it yet).
          WHERE NOT EXISTS (SELECT 1 FROM user_erasures e WHERE e.user_id = fresh.sender_id)
         ON CONFLICT (room_id, sender_id) WHERE destroyed_at IS NULL DO NOTHING
         RETURNING ${COLUMNS}
       )
       SELECT * FROM inserted
       UNION ALL
       SELECT d.key_id::text, d.room_id, d.sender_id, d.kek_id, d.wrapped_key
         FROM data_keys d JOIN fresh f ON d.room_id = f.room_id AND d.sender_id = f.sender_id
        WHERE d.destroyed_at IS NULL`,
      [
        fresh.map((k) => k.keyId),
        fresh.map((k) => k.roomId),
        fresh.map((k) => k.senderId),
        fresh.map((k) => k.kekId),
        fresh.map((k) => k.wrapped.toString('hex')),
      ],
    );
    const found = new Map(result.rows.map((row) => [slot(row.room_id, row.sender_id), toKey(row)]));
    const keys: WrappedDataKey[] = [];
    for (const key of fresh) {
      const live = found.get(slot(key.roomId, key.senderId)) ?? (await this.findLive(key.roomId, key.senderId));
      if (live === null) throw new SenderErasedError(key.senderId);
      keys.push(live);
    }
    return keys;
  }

  async findByIds(keyIds: readonly string[]): Promise<WrappedDataKey[]> {
    const ids = keyIds.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (ids.length === 0) return [];
    const result = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM data_keys WHERE key_id = ANY($1::uuid[]) AND destroyed_at IS NULL`,
      [ids],
    );
    return result.rows.map(toKey);
  }

  async destroyBySender(senderId: string): Promise<Array<{ keyId: string; roomId: string }>> {
    const result = await this.db.query<{ key_id: string; room_id: string }>(
      `UPDATE data_keys SET wrapped_key = NULL, kek_id = NULL, destroyed_at = now()
        WHERE sender_id = $1 AND destroyed_at IS NULL RETURNING key_id::text, room_id`,
      [senderId],
    );
    return result.rows.map((r) => ({ keyId: r.key_id, roomId: r.room_id }));
  }

  async destroyByRoom(roomId: string): Promise<Array<{ keyId: string; senderId: string }>> {
    const result = await this.db.query<{ key_id: string; sender_id: string }>(
      `UPDATE data_keys SET wrapped_key = NULL, kek_id = NULL, destroyed_at = now()
        WHERE room_id = $1 AND destroyed_at IS NULL RETURNING key_id::text, sender_id`,
      [roomId],
    );
    return result.rows.map((r) => ({ keyId: r.key_id, senderId: r.sender_id }));
  }

  async findWrappedOtherThan(kekId: string, limit: number): Promise<WrappedDataKey[]> {
    const result = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM data_keys WHERE destroyed_at IS NULL AND kek_id <> $1 ORDER BY key_id LIMIT $2`,
      [kekId, limit],
    );
    return result.rows.map(toKey);
  }

  async countWrappedOtherThan(kekId: string): Promise<number> {
    const result = await this.db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM data_keys WHERE destroyed_at IS NULL AND kek_id <> $1`,
      [kekId],
    );
    return Number(result.rows[0]?.n ?? 0);
  }

  async rewrap(keyId: string, fromKekId: string, to: { kekId: string; wrapped: Buffer }): Promise<boolean> {
    const result = await this.db.query(
      `UPDATE data_keys SET kek_id = $3, wrapped_key = $4 WHERE key_id = $1::uuid AND kek_id = $2 AND destroyed_at IS NULL`,
      [keyId, fromKekId, to.kekId, to.wrapped],
    );
    return result.rowCount > 0;
  }
}

function toKey(row: Row): WrappedDataKey {
  return { keyId: row.key_id, roomId: row.room_id, senderId: row.sender_id, kekId: row.kek_id, wrapped: Buffer.from(row.wrapped_key) };
}

function slot(roomId: string, senderId: string): string {
  return `${roomId}\u0000${senderId}`;
}
