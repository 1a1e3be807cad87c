import type { SqlDatabase, SqlExecutor } from '../sql/sqlDatabase';

export type Channel = 'webhook' | 'push';

export interface NewDelivery {
  deliveryId: string;
  channel: Channel;
  /** The webhook URL or the push subscription's endpoint. */
  target: string;
  /** Deliveries with the same channel, target and key go out one at a time, in order: the room id. */
  orderingKey: string;
  /**
   * Whose share of the delivery slots this delivery takes (default: its target): a
   * push is the recipient's (`user:<id>`), so one user's many dead endpoints share
   * one user's slots.
   */
  fairKey?: string;
  eventId: string | null;
  type: string;
  body: string;
  retryForMs: number;
}

export interface ClaimedDelivery {
  id: string;
  deliveryId: string;
  channel: Channel;
  target: string;
  orderingKey: string;
  type: string;
  body: string;
  attempts: number;
  retryUntil: Date;
}

export interface DeadLetter {
  deliveryId: string;
  channel: Channel;
  target: string;
  roomId: string;
  eventId: string | null;
  type: string;
  attempts: number;
  createdAt: string;
  deadAt: string;
  lastStatus: number | null;
  lastError: string | null;
  payload: unknown;
}

/** Wakes delivery workers in every process when deliveries are added or replayed. */
export const OUTBOX_CHANNEL = 'chat_outbox';

export async function enqueueDeliveries(tx: SqlExecutor, deliveries: readonly NewDelivery[]): Promise<void> {
  for (const d of deliveries) {
    await tx.query(
      `INSERT INTO notify_outbox (delivery_id, channel, target, ordering_key, fair_key, event_id, type, body, retry_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9::double precision / 1000))
       ON CONFLICT (delivery_id) DO NOTHING`,
      [d.deliveryId, d.channel, d.target, d.orderingKey, d.fairKey ?? null, d.eventId, d.type, d.body, d.retryForMs],
    );
  }
  if (deliveries.length > 0) await tx.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
}

/**
 * Takes the words out of a room's deliveries of messages up to `upToSeq` still in the
 * outbox, waiting or dead (delivered ones are deleted): their data keys are destroyed
 * (retention, docs/privacy.md), so no copy of the text may stay in the clear. The delivery
 * goes out, or is replayed, without its `body`. Answers how many were scrubbed.
 */
export async function scrubRoomMessageBodies(tx: SqlExecutor, roomId: string, upToSeq: number): Promise<number> {
  const result = await tx.query(
    `UPDATE notify_outbox
        SET body = CASE channel WHEN 'webhook' THEN (body::jsonb #- '{data,body}')::text ELSE (body::jsonb - 'body')::text END
      WHERE ordering_key = $1 AND type = 'message.created'
        AND CASE channel WHEN 'webhook' THEN body::jsonb #> '{data,body}' IS NOT NULL AND (body::jsonb #>> '{data,seq}')::int <= $2
                         ELSE body::jsonb -> 'body' IS NOT NULL AND (body::jsonb ->> 'seq')::int <= $2 END`,
    [roomId, upToSeq],
  );
  return result.rowCount;
}

/**
 * The outbox: deliveries waiting to go out, leased by one worker at a time. Only the
 * oldest waiting delivery of each (channel, target, room) can be claimed, so a room's
 * deliveries reach each receiver in order; a lease that runs out (its worker died)
 * makes the delivery claimable again: at least once, never lost. Times are
 * PostgreSQL's, so processes need not agree on the clock.
 *
 * Claims are fair: each channel is claimed on its own, and a fair key (a webhook URL,
 * a push recipient) holds at most `perKey` leases at once across all processes, the
 * slots going round the keys that have something due. So a receiver that accepts and
 * never answers ties up its own share, never everyone's.
 */
export class OutboxStore {
  constructor(private readonly db: SqlDatabase) {}

  async claim(owner: string, options: { channel: Channel; max: number; perKey: number; leaseMs: number }): Promise<ClaimedDelivery[]> {
    const { channel, max, perKey, leaseMs } = options;
    if (max <= 0) return [];
    const result = await this.db.query<{
      id: string;
      delivery_id: string;
      channel: Channel;
      target: string;
      ordering_key: string;
      type: string;
      body: string;
      attempts: number;
      retry_until: Date | string;
    }>(
      `WITH heads AS (
         SELECT DISTINCT ON (target, ordering_key) id, coalesce(fair_key, target) AS fair, next_attempt_at, lease_until
           FROM notify_outbox WHERE status = 'pending' AND channel = $4
          ORDER BY target, ordering_key, id
       ), busy AS (
         SELECT coalesce(fair_key, target) AS fair, count(*) AS leased
           FROM notify_outbox WHERE status = 'pending' AND channel = $4 AND lease_until >= now()
          GROUP BY 1
       ), ranked AS (
         SELECT h.id, h.next_attempt_at,
                row_number() OVER (PARTITION BY h.fair ORDER BY h.next_attempt_at, h.id) + coalesce(b.leased, 0) AS slot
           FROM heads h LEFT JOIN busy b ON b.fair = h.fair
          WHERE h.next_attempt_at <= now() AND (h.lease_until IS NULL OR h.lease_until < now())
       ), due AS (
         SELECT o.id FROM notify_outbox o JOIN ranked r ON r.id = o.id
          WHERE r.slot <= $5
          ORDER BY r.slot, r.next_attempt_at, o.id
          LIMIT $2
          FOR UPDATE OF o SKIP LOCKED
       )
       UPDATE notify_outbox o
          SET lease_owner = $1, lease_until = now() + make_interval(secs => $3::double precision / 1000), attempts = o.attempts + 1
         FROM due
        WHERE o.id = due.id AND o.status = 'pending' AND (o.lease_until IS NULL OR o.lease_until < now())
       RETURNING o.id::text AS id, o.delivery_id::text AS delivery_id, o.channel, o.target, o.ordering_key, o.type, o.body, o.attempts, o.retry_until`,
      [owner, max, leaseMs, channel, perKey],
    );
    return result.rows.map((r) => ({
      id: r.id,
      deliveryId: r.delivery_id,
      channel: r.channel,
      target: r.target,
      orderingKey: r.ordering_key,
      type: r.type,
      body: r.body,
      attempts: r.attempts,
      retryUntil: new Date(r.retry_until),
    }));
  }

  /** Delivered: the row goes (the receiver has it; its delivery id is the receiver's to keep). */
  async delivered(id: string, owner: string): Promise<void> {
    await this.db.query(`DELETE FROM notify_outbox WHERE id = $1 AND lease_owner = $2`, [id, owner]);
  }

  /** Back to the queue at once, its attempt not counted: this process is shutting down mid-attempt. */
  async release(id: string, owner: string): Promise<void> {
    await this.db.query(
      `UPDATE notify_outbox SET lease_owner = NULL, lease_until = NULL, attempts = greatest(attempts - 1, 0) WHERE id = $1 AND lease_owner = $2`,
      [id, owner],
    );
  }

  async retryAt(id: string, owner: string, at: Date, lastStatus: number | null, lastError: string): Promise<void> {
    await this.db.query(
      `UPDATE notify_outbox SET next_attempt_at = $3, lease_owner = NULL, lease_until = NULL, last_status = $4, last_error = $5
        WHERE id = $1 AND lease_owner = $2`,
      [id, owner, at.toISOString(), lastStatus, lastError.slice(0, 500)],
    );
  }

  async dead(id: string, owner: string, lastStatus: number | null, lastError: string): Promise<void> {
    await this.db.query(
      `UPDATE notify_outbox SET status = 'dead', dead_at = now(), lease_owner = NULL, lease_until = NULL, last_status = $3, last_error = $4
        WHERE id = $1 AND lease_owner = $2`,
      [id, owner, lastStatus, lastError.slice(0, 500)],
    );
  }

  /** Dead letters, oldest first, after the cursor (a dead letter's position). */
  async deadLetters(options: { limit: number; after: string | null; channel: Channel | null }): Promise<{ deadLetters: DeadLetter[]; nextCursor: string | null }> {
    const result = await this.db.query<{
      id: string;
      delivery_id: string;
      channel: Channel;
      target: string;
      ordering_key: string;
      event_id: string | null;
      type: string;
      attempts: number;
      created_at: Date | string;
      dead_at: Date | string;
      last_status: number | null;
      last_error: string | null;
      body: string;
    }>(
      `SELECT id::text AS id, delivery_id::text AS delivery_id, channel, target, ordering_key, event_id, type, attempts,
              created_at, dead_at, last_status, last_error, body
         FROM notify_outbox
        WHERE status = 'dead' AND ($1::bigint IS NULL OR id > $1::bigint) AND ($2::text IS NULL OR channel = $2)
        ORDER BY id LIMIT $3`,
      [options.after, options.channel, options.limit + 1],
    );
    const rows = result.rows.slice(0, options.limit);
    return {
      deadLetters: rows.map((r) => ({
        deliveryId: r.delivery_id,
        channel: r.channel,
        target: r.target,
        roomId: r.ordering_key,
        eventId: r.event_id,
        type: r.type,
        attempts: r.attempts,
        createdAt: new Date(r.created_at).toISOString(),
        deadAt: new Date(r.dead_at).toISOString(),
        lastStatus: r.last_status,
        lastError: r.last_error,
        payload: parseOrText(r.body),
      })),
      nextCursor: result.rows.length > options.limit ? (rows.at(-1)?.id ?? null) : null,
    };
  }

  /**
   * Dead letters back in the queue (one, or every one), with a fresh retry window and
   * their original place in their room's order. Returns how many were replayed.
   */
  async replay(deliveryId: string | null, retryForMs: number): Promise<number> {
    const result = await this.db.query(
      `UPDATE notify_outbox
          SET status = 'pending', dead_at = NULL, attempts = 0, next_attempt_at = now(),
              retry_until = now() + make_interval(secs => $2::double precision / 1000)
        WHERE status = 'dead' AND ($1::uuid IS NULL OR delivery_id = $1::uuid)`,
      [deliveryId, retryForMs],
    );
    if (result.rowCount > 0) await this.db.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
    return result.rowCount;
  }

  /**
   * Deletes dead letters that died more than `olderThanMs` ago; returns how many. The
   * events they were made from stay in the event store, so nothing of the history goes.
   */
  async purgeDeadLetters(olderThanMs: number): Promise<number> {
    const result = await this.db.query(`DELETE FROM notify_outbox WHERE status = 'dead' AND dead_at < now() - make_interval(secs => $1)`, [
      olderThanMs / 1000,
    ]);
    return result.rowCount;
  }

  /** Waiting deliveries, dead letters, and the age of the oldest waiting one (seconds; 0 when none). */
  async summary(): Promise<{ pending: number; dead: number; oldestPendingAgeSeconds: number }> {
    const result = await this.db.query<{ pending: string; dead: string; oldest: string | null }>(
      `SELECT count(*) FILTER (WHERE status = 'pending')::text AS pending,
              count(*) FILTER (WHERE status = 'dead')::text AS dead,
              extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::text AS oldest
         FROM notify_outbox`,
    );
    const row = result.rows[0];
    return { pending: Number(row?.pending ?? 0), dead: Number(row?.dead ?? 0), oldestPendingAgeSeconds: Math.max(0, Number(row?.oldest ?? 0)) };
  }
}

function parseOrText(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}
