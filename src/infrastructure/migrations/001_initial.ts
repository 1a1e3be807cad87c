import type { Migration } from './runner';

/**
 * The schema as the releases before versioned migrations created it, table by table
 * "if not exists". Every statement keeps its IF [NOT] EXISTS: on a database made by such a
 * release this migration finds everything in place and only records it (the database is
 * adopted, not recreated). Never edit it: a change to the schema is a new migration.
 *
 * What is here: the event store's `events` (created whatever EVENT_STORE says: unused, and
 * empty, with EventStoreDB), the read models (`rm_*`: all rebuildable from the events),
 * the notification tables (presence, the outbox of webhook and push deliveries, unread
 * reminders, push subscriptions, the development VAPID keys), the room snapshots and the
 * send budget's shared token buckets.
 */
export const initial: Migration = {
  version: 1,
  name: 'initial schema (adopts a database made before versioned migrations)',
  async up(tx) {
    // A process of the previous release starting meanwhile creates these tables under
    // its own locks, one at a time: hold them too, in its order, so we never race it.
    for (const kind of ['events', 'read-models', 'notifications', 'rate-buckets']) {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`chat:migrate:${kind}`]);
    }

    // The event store (see PostgresEventStore for why appends never overlap).
    await tx.query(`
      CREATE TABLE IF NOT EXISTS events (
        global_position bigserial PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        stream_id text NOT NULL,
        stream_revision bigint NOT NULL,
        event_id uuid NOT NULL,
        event_type text NOT NULL,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (stream_id, stream_revision),
        UNIQUE (stream_id, event_id)
      )`);
    // Readers order by position alone: the old (xid, position) index only slowed appends.
    await tx.query(`DROP INDEX IF EXISTS events_global_order`);

    // The read models.
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

    // The notification tables: not read models (a read-model rebuild leaves them alone).
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
    // The reminder check looks only at members with something unread.
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

    // Room snapshots, one row per stream (SqlSnapshotStore).
    await tx.query(`
      CREATE TABLE IF NOT EXISTS stream_snapshots (
        stream_id text PRIMARY KEY,
        revision bigint NOT NULL,
        last_hash text NOT NULL,
        version text NOT NULL,
        state jsonb NOT NULL,
        taken_at timestamptz NOT NULL DEFAULT now()
      )`);

    // The send budget shared by every process on a PostgreSQL server (SqlSharedBuckets).
    await tx.query(`
      CREATE TABLE IF NOT EXISTS chat_rate_buckets (
        bucket text PRIMARY KEY,
        tokens double precision NOT NULL,
        refilled_at timestamptz NOT NULL,
        taken boolean NOT NULL
      )`);
  },
};
