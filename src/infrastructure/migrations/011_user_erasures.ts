import type { Migration } from './runner';

/**
 * Erasure (docs/privacy.md): `user_erasures` is the erasure process's own table, one row a
 * user (user ids are never reused), with the steps done so far, so a process killed
 * mid-way picks up where it stopped; every process loads the erased users from it at
 * start. `rm_messages.erased` marks a message read erased in the history.
 */
export const userErasures: Migration = {
  version: 11,
  name: 'user_erasures and rm_messages.erased',
  async up(tx) {
    await tx.query(`ALTER TABLE rm_messages ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS user_erasures (
        erasure_id uuid PRIMARY KEY,
        user_id text NOT NULL UNIQUE,
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
        steps_done text[] NOT NULL DEFAULT '{}',
        counts jsonb,
        completed_at timestamptz,
        lease_owner text,
        lease_until timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        last_error text
      )`);
    await tx.query(`CREATE INDEX IF NOT EXISTS user_erasures_pending ON user_erasures (requested_at) WHERE status = 'pending'`);
  },
};
