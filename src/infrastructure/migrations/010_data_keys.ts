import type { Migration } from './runner';

/**
 * The data keys of crypto-shredding (docs/privacy.md): one live key per (room, sender),
 * kept only wrapped under the key-encryption key whose id is recorded beside it. A
 * destroyed key keeps its row as a tombstone (who, which room, when) with the wrapped
 * bytes and the key-encryption key id cleared.
 */
export const dataKeys: Migration = {
  version: 10,
  name: 'data keys of message bodies (crypto-shredding)',
  async up(tx) {
    await tx.query(`
      CREATE TABLE data_keys (
        key_id uuid PRIMARY KEY,
        room_id text NOT NULL,
        sender_id text NOT NULL,
        kek_id text,
        wrapped_key bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        destroyed_at timestamptz,
        CHECK ((destroyed_at IS NULL) = (wrapped_key IS NOT NULL AND kek_id IS NOT NULL))
      )`);
    // One live key per (room, sender); destroyed ones stay beside it as tombstones.
    await tx.query(`CREATE UNIQUE INDEX data_keys_live ON data_keys (room_id, sender_id) WHERE destroyed_at IS NULL`);
    // An erasure destroys a sender's keys; a rotation re-wraps those under an older key-encryption key.
    await tx.query(`CREATE INDEX data_keys_sender ON data_keys (sender_id)`);
    await tx.query(`CREATE INDEX data_keys_kek ON data_keys (kek_id) WHERE destroyed_at IS NULL`);
  },
};
