import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';

/** The tables the projection keeps; all of them can be rebuilt from the events. */
export const readModelTables = ['rm_posts', 'rm_rooms', 'rm_room_members', 'rm_messages'] as const;

/** The primary key of each read-model table: rows compare by it. */
export const readModelKeys: Record<(typeof readModelTables)[number], string[]> = {
  rm_posts: ['post_id'],
  rm_rooms: ['room_id'],
  rm_room_members: ['room_id', 'user_id'],
  rm_messages: ['room_id', 'seq'],
};

export async function migrateReadModels(db: SqlDatabase): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('chat:migrate:read-models', 0))`);
    await createReadModelTables(tx);
  });
}

/**
 * Creates the read-model tables that do not exist yet, in the first schema of the
 * search path: the live ones, or a scratch copy (rebuild-check).
 */
export async function createReadModelTables(tx: SqlExecutor): Promise<void> {
  await tx.query(`
    CREATE TABLE IF NOT EXISTS rm_projection_checkpoints (
      projection text PRIMARY KEY,
      checkpoint text NOT NULL
    )`);
  await tx.query(`
    CREATE TABLE IF NOT EXISTS rm_posts (
      post_id text PRIMARY KEY,
      owner_id text NOT NULL,
      title text NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
  // GET /api/posts pages through them newest first.
  await tx.query(`CREATE INDEX IF NOT EXISTS rm_posts_newest ON rm_posts (updated_at DESC, post_id DESC)`);
  await tx.query(`
    CREATE TABLE IF NOT EXISTS rm_rooms (
      room_id text PRIMARY KEY,
      post_id text NOT NULL,
      post_title text NOT NULL,
      lender_id text NOT NULL,
      borrower_id text NOT NULL,
      status text NOT NULL,
      opened_at timestamptz NOT NULL,
      active_since timestamptz NOT NULL,
      last_activity_at timestamptz NOT NULL,
      last_message_at timestamptz,
      last_seq integer NOT NULL DEFAULT 0,
      last_read jsonb NOT NULL,
      blocks jsonb NOT NULL DEFAULT '{}'::jsonb
    )`);
  // last_seq when the room was last (re)opened: equal to last_seq means no message since (as in the decider).
  await tx.query(`ALTER TABLE rm_rooms ADD COLUMN IF NOT EXISTS active_since_seq integer NOT NULL DEFAULT 0`);
  // The expiry sweep looks for open rooms by the time their TTL runs out.
  await tx.query(`CREATE INDEX IF NOT EXISTS rm_rooms_open_activity ON rm_rooms (status, last_activity_at)`);
  await tx.query(`
    CREATE TABLE IF NOT EXISTS rm_room_members (
      room_id text NOT NULL,
      user_id text NOT NULL,
      status text NOT NULL,
      last_activity_at timestamptz NOT NULL,
      last_read_seq integer NOT NULL DEFAULT 0,
      unread_count integer NOT NULL DEFAULT 0,
      PRIMARY KEY (room_id, user_id)
    )`);
  await tx.query(
    `CREATE INDEX IF NOT EXISTS rm_room_members_list ON rm_room_members (user_id, status, last_activity_at DESC, room_id DESC)`,
  );
  await tx.query(`
    CREATE TABLE IF NOT EXISTS rm_messages (
      room_id text NOT NULL,
      seq integer NOT NULL,
      message_id text NOT NULL,
      sender_id text NOT NULL,
      body text NOT NULL,
      client_message_id text NOT NULL,
      sent_at timestamptz NOT NULL,
      PRIMARY KEY (room_id, seq)
    )`);
  // 'text' (a participant's) or 'notice' (the marketplace's).
  await tx.query(`ALTER TABLE rm_messages ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'text'`);
}
