import type { Migration } from './runner';

/**
 * Trust and safety's read models: the reports (the moderators' queue, newest first by
 * status) and which messages a moderator hid. Both are rebuilt from the events like every
 * rm_ table.
 */
export const reports: Migration = {
  version: 8,
  name: 'rm_reports, rm_suspensions and rm_messages.hidden',
  async up(tx) {
    await tx.query(`ALTER TABLE rm_messages ADD COLUMN IF NOT EXISTS hidden boolean NOT NULL DEFAULT false`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS rm_reports (
        report_id text PRIMARY KEY,
        room_id text NOT NULL,
        seq integer NOT NULL,
        reporter_id text NOT NULL,
        reported_user_id text NOT NULL,
        reason text NOT NULL,
        note text NOT NULL,
        status text NOT NULL,
        created_at timestamptz NOT NULL,
        action text,
        resolution_note text,
        moderator_id text,
        resolved_at timestamptz
      )`);
    await tx.query(`CREATE INDEX IF NOT EXISTS rm_reports_queue ON rm_reports (status, created_at DESC, report_id DESC)`);
    await tx.query(`CREATE UNIQUE INDEX IF NOT EXISTS rm_reports_once ON rm_reports (room_id, seq, reporter_id)`);
    // Who is suspended now (or was, until \`until\`): every write checks it.
    await tx.query(`
      CREATE TABLE IF NOT EXISTS rm_suspensions (
        user_id text PRIMARY KEY,
        until timestamptz,
        reason text NOT NULL,
        suspended_by text NOT NULL,
        suspended_at timestamptz NOT NULL
      )`);
  },
};
