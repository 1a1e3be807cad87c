import type { Migration } from './runner';

/**
 * Erased messages in the read models (docs/privacy.md): `rm_messages.erased` marks a
 * message whose data key is gone (its body is then "" and its photos none), and
 * `rm_rooms.retained_up_to_seq` the last seq the room's retention erased, so the
 * retention sweep passes over rooms it has already erased.
 */
export const erasedMessages: Migration = {
  version: 11,
  name: 'rm_messages.erased and rm_rooms.retained_up_to_seq: erasure and retention in the read models',
  async up(tx) {
    await tx.query(`ALTER TABLE rm_messages ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false`);
    await tx.query(`ALTER TABLE rm_rooms ADD COLUMN IF NOT EXISTS retained_up_to_seq integer NOT NULL DEFAULT 0`);
    // The retention sweep looks for rooms by their last activity, open or expired.
    await tx.query(`CREATE INDEX IF NOT EXISTS rm_rooms_activity ON rm_rooms (last_activity_at, room_id)`);
  },
};
