import webpush from 'web-push';
import type { SqlDatabase } from '../sql/sqlDatabase';

export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** A user's subscriptions at most (browsers and devices); a new one past it replaces their oldest. */
export const MAX_PUSH_SUBSCRIPTIONS_PER_USER = 10;

/**
 * The users' Web Push subscriptions. An endpoint belongs to one browser profile: when
 * another user subscribes the same endpoint (someone else signed in there), it moves
 * to them, so a browser never shows the previous user's notifications. A user keeps
 * at most MAX_PUSH_SUBSCRIPTIONS_PER_USER, the most recently subscribed: every
 * message fans out one delivery per subscription, so the number must be bounded.
 */
export class SqlPushSubscriptions {
  constructor(
    private readonly db: SqlDatabase,
    private readonly maxPerUser = MAX_PUSH_SUBSCRIPTIONS_PER_USER,
  ) {}

  async save(userId: string, subscription: PushSubscriptionInput): Promise<void> {
    await this.db.transaction(async (tx) => {
      // One user's subscribes in turn, so two at once cannot both keep an eleventh.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('chat:push:' || $1, 0))`, [userId]);
      await tx.query(
        `INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth) VALUES ($1, $2, $3, $4)
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, created_at = now()`,
        [subscription.endpoint, userId, subscription.keys.p256dh, subscription.keys.auth],
      );
      await tx.query(
        `DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint NOT IN (
           SELECT endpoint FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, endpoint = $2 DESC LIMIT $3)`,
        [userId, subscription.endpoint, this.maxPerUser],
      );
    });
  }

  /** Removes the caller's own subscription; another user's endpoint is left alone. */
  async remove(userId: string, endpoint: string): Promise<void> {
    await this.db.query(`DELETE FROM push_subscriptions WHERE endpoint = $1 AND user_id = $2`, [endpoint, userId]);
  }

  /** The push service said the subscription is gone (404/410). */
  async removeGone(endpoint: string): Promise<void> {
    await this.db.query(`DELETE FROM push_subscriptions WHERE endpoint = $1`, [endpoint]);
  }
}

/**
 * The development VAPID keys: generated on the first start and kept in the database,
 * so every process on it (and every restart) signs with the same pair and browsers'
 * subscriptions stay valid. The first process to insert wins.
 */
export async function developmentVapidKeys(db: SqlDatabase): Promise<{ publicKey: string; privateKey: string }> {
  const generated = webpush.generateVAPIDKeys();
  await db.query(`INSERT INTO push_vapid_keys (id, public_key, private_key) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`, [
    generated.publicKey,
    generated.privateKey,
  ]);
  const stored = await db.query<{ public_key: string; private_key: string }>(`SELECT public_key, private_key FROM push_vapid_keys WHERE id = 1`);
  const row = stored.rows[0];
  if (row === undefined) throw new Error('the development VAPID keys could not be stored');
  return { publicKey: row.public_key, privateKey: row.private_key };
}
