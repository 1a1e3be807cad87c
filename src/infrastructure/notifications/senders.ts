import webpush from 'web-push';
import type { SqlDatabase } from '../sql/sqlDatabase';
import type { ClaimedDelivery } from './outboxStore';
import { webhookHeaders } from './webhookSignature';

/** What one attempt gave: the HTTP status (null: no answer), a line for the dead-letter record, and Retry-After. */
export interface AttemptResult {
  status: number | null;
  error: string;
  retryAfter: string | null;
}

export type Sender = (delivery: ClaimedDelivery, signal: AbortSignal) => Promise<AttemptResult>;

async function post(url: string, init: { headers: Record<string, string>; body: string | Buffer }, signal: AbortSignal): Promise<AttemptResult> {
  try {
    const response = await fetch(url, { method: 'POST', headers: init.headers, body: init.body, redirect: 'manual', signal });
    // The answer's body is not needed; reading it would let a receiver hold the worker.
    await response.body?.cancel().catch(() => undefined);
    return { status: response.status, error: `HTTP ${response.status}`, retryAfter: response.headers.get('retry-after') };
  } catch (error) {
    const reason = signal.aborted ? 'timed out' : (error as { cause?: { code?: string } }).cause?.code ?? (error instanceof Error ? error.message : String(error));
    return { status: null, error: reason, retryAfter: null };
  }
}

/** A signed POST of the stored envelope to the webhook URL. */
export function webhookSender(secret: string): Sender {
  return (delivery, signal) => post(delivery.target, { headers: webhookHeaders(secret, delivery.deliveryId, delivery.body, new Date()), body: delivery.body }, signal);
}

/**
 * A Web Push message (RFC 8030) to the subscription's push service, its payload
 * encrypted for the subscription (RFC 8291, aes128gcm) and signed with VAPID
 * (RFC 8292) by the web-push package. Sent with fetch, like webhooks, so both share
 * the time limit and the handling of answers. A subscription removed since the
 * delivery was queued makes the delivery "gone".
 */
export function pushSender(db: SqlDatabase, vapid: { subject: string; publicKey: string; privateKey: string }, ttlSeconds: number): Sender {
  return async (delivery, signal) => {
    const found = await db.query<{ p256dh: string; auth: string }>(`SELECT p256dh, auth FROM push_subscriptions WHERE endpoint = $1`, [delivery.target]);
    const keys = found.rows[0];
    if (keys === undefined) return { status: 410, error: 'the subscription was removed', retryAfter: null };
    const details = webpush.generateRequestDetails({ endpoint: delivery.target, keys }, delivery.body, {
      vapidDetails: vapid,
      TTL: ttlSeconds,
      contentEncoding: 'aes128gcm',
      urgency: 'high',
      topic: undefined,
    });
    return post(details.endpoint, { headers: details.headers as Record<string, string>, body: details.body as Buffer }, signal);
  };
}
