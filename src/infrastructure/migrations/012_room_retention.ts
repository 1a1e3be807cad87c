import type { Migration } from './runner';

/**
 * Retention (MESSAGE_RETENTION, docs/privacy.md): `rm_rooms.retained_up_to_seq` is the last
 * seq the room's retention erased, so the retention sweep passes over rooms it has erased
 * already; it looks for rooms by their last activity, open or expired.
 */
export const roomRetention: Migration = {
  version: 12,
  name: 'rm_rooms.retained_up_to_seq: message retention in the read models',
  async up(tx) {
    await tx.query(`ALTER TABLE rm_rooms ADD COLUMN IF NOT EXISTS retained_up_to_seq integer NOT NULL DEFAULT 0`);
    await tx.query(`CREATE INDEX IF NOT EXISTS rm_rooms_activity ON rm_rooms (last_activity_at, room_id)`);
  },
};
