import type { SqlDatabase } from '../sql/sqlDatabase';

/**
 * The notification tables: who is connected where (presence), the outbox of
 * deliveries to webhooks and push services with its own event-store checkpoint,
 * the rooms' participants as the outbox feeder saw them, unread reminders already
 * decided, push subscriptions and the development VAPID keys. None of them is a
 * read model: a read-model rebuild leaves them alone.
 */
export async function migrateNotifications(db: SqlDatabase): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('chat:migrate:notifications', 0))`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS presence_processes (
        process_id text PRIMARY KEY,
        heartbeat_at timestamptz NOT NULL
      )`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS presence_users (
        process_id text NOT NULL,
        user_id text NOT NULL,
        PRIMARY KEY (user_id, process_id)
      )`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS notify_checkpoints (
        feeder text PRIMARY KEY,
        checkpoint text NOT NULL
      )`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS notify_rooms (
        room_id text PRIMARY KEY,
        post_id text NOT NULL,
        post_title text NOT NULL,
        lender_id text NOT NULL,
        borrower_id text NOT NULL
      )`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS notify_outbox (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL UNIQUE,
        channel text NOT NULL,
        target text NOT NULL,
        ordering_key text NOT NULL,
        event_id text,
        type text NOT NULL,
        body text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        created_at timestamptz NOT NULL DEFAULT now(),
        retry_until timestamptz NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_owner text,
        lease_until timestamptz,
        last_status integer,
        last_error text,
        dead_at timestamptz
      )`);
    // Whose share of the delivery slots a delivery takes (null: its target's); see OutboxStore.claim.
    await tx.query(`ALTER TABLE notify_outbox ADD COLUMN IF NOT EXISTS fair_key text`);
    // The head of each (channel, target, room) queue is found through this index.
    await tx.query(
      `CREATE INDEX IF NOT EXISTS notify_outbox_pending ON notify_outbox (channel, target, ordering_key, id) WHERE status = 'pending'`,
    );
    await tx.query(`CREATE INDEX IF NOT EXISTS notify_outbox_dead ON notify_outbox (id) WHERE status = 'dead'`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS notify_unread_reminders (
        room_id text NOT NULL,
        user_id text NOT NULL,
        last_read_seq integer NOT NULL,
        reminded_at timestamptz NOT NULL,
        PRIMARY KEY (room_id, user_id)
      )`);
    // The reminder check looks only at members with something unread (rm_room_members is
    // migrated first: the container runs the read-model migration before this one).
    await tx.query(`CREATE INDEX IF NOT EXISTS notify_rm_room_members_unread ON rm_room_members (room_id) WHERE unread_count > 0`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS push_subscriptions (
        endpoint text PRIMARY KEY,
        user_id text NOT NULL,
        p256dh text NOT NULL,
        auth text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await tx.query(`CREATE INDEX IF NOT EXISTS push_subscriptions_user ON push_subscriptions (user_id)`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS push_vapid_keys (
        id integer PRIMARY KEY CHECK (id = 1),
        public_key text NOT NULL,
        private_key text NOT NULL
      )`);
  });
}
