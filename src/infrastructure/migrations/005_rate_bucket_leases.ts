import type { Migration } from './runner';

/**
 * How many tokens the last take of a shared send bucket removed: a process now takes a
 * lease of several tokens in one statement (SqlSharedBuckets.takeUpTo) and needs the
 * count back. `taken` stays, written as before, for processes of the previous release
 * during a rolling upgrade.
 */
export const rateBucketLeases: Migration = {
  version: 5,
  name: 'chat_rate_buckets.granted: send budget leases',
  async up(tx) {
    await tx.query(`ALTER TABLE chat_rate_buckets ADD COLUMN IF NOT EXISTS granted integer NOT NULL DEFAULT 0`);
  },
};
