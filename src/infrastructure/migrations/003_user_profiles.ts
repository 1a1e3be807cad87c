import type { Migration } from './runner';

/**
 * The name and picture each user's tokens last carried (their `name` and `picture`
 * claims), shown as the room object's `participants`. Not a read model: it comes from
 * tokens, not events, so a read-model rebuild leaves it alone.
 */
export const userProfiles: Migration = {
  version: 3,
  name: 'user profiles from the tokens’ name and picture claims',
  async up(tx) {
    await tx.query(`
      CREATE TABLE user_profiles (
        user_id text PRIMARY KEY,
        name text,
        picture text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  },
};
