import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import webpush from 'web-push';
import type { SqlDatabase } from '../sql/sqlDatabase';
import type { ClaimedDelivery } from './outboxStore';
import { checkedLookup, EndpointRefused, failureKind, systemResolver, urlRefusal, type PushEndpointPolicy, type Resolver } from './pushEndpointPolicy';
import { webhookHeaders } from './webhookSignature';

/**
 * What one attempt gave: the HTTP status (null: no answer), the kind of failure for
 * the dead-letter record (`http 500`, `timeout`, `connection refused`, `tls error`…,
 * never the peer's own words), Retry-After, and whether the target was refused by
 * the push endpoint rules (never worth a retry).
 */
export interface AttemptResult {
  status: number | null;
  error: string;
  retryAfter: string | null;
  refused?: boolean;
}

export type Sender = (delivery: ClaimedDelivery, signal: AbortSignal) => Promise<AttemptResult>;

function answered(status: number, retryAfter: string | null): AttemptResult {
  return { status, error: `http ${status}`, retryAfter };
}

/** A webhook: the operator's own URL (trusted, may be on a private network), sent with fetch. */
async function fetchPost(url: string, init: { headers: Record<string, string>; body: string | Buffer }, signal: AbortSignal): Promise<AttemptResult> {
  try {
    const response = await fetch(url, { method: 'POST', headers: init.headers, body: init.body, redirect: 'manual', signal });
    // The answer's body is not needed; reading it would let a receiver hold the worker.
    await response.body?.cancel().catch(() => undefined);
    return answered(response.status, response.headers.get('retry-after'));
  } catch (error) {
    return { status: null, error: failureKind(error, signal.aborted), retryAfter: null };
  }
}

/** A signed POST of the stored envelope to the webhook URL. */
export function webhookSender(secret: string): Sender {
  return (delivery, signal) => fetchPost(delivery.target, { headers: webhookHeaders(secret, delivery.deliveryId, delivery.body, new Date()), body: delivery.body }, signal);
}

/**
 * A POST to a URL a user chose, under the push endpoint rules: the URL is checked,
 * the host resolved once by a lookup that refuses any address push may not reach,
 * and the connection made to the address that was checked. Redirects are never
 * followed (node:http does not), and the answer's body is not read.
 */
export function guardedPost(policy: PushEndpointPolicy, resolve: Resolver = systemResolver) {
  const lookup = checkedLookup(policy, resolve);
  // Keep-alive per process: a socket is reused only for the host (and checked address) it was opened to.
  const agents = { 'https:': new HttpsAgent({ keepAlive: true, lookup }), 'http:': new HttpAgent({ keepAlive: true, lookup }) };
  return (target: string, init: { headers: Record<string, string>; body: Buffer | string }, signal: AbortSignal): Promise<AttemptResult> => {
    const url = URL.canParse(target) ? new URL(target) : null;
    const refusal = url === null ? 'must be a URL' : urlRefusal(url, policy);
    if (url === null || refusal !== null) return Promise.resolve({ status: null, error: failureKind(new EndpointRefused(refusal ?? ''), false), retryAfter: null, refused: true });
    const https = url.protocol === 'https:';
    return new Promise<AttemptResult>((settle) => {
      let settled = false;
      const finish = (result: AttemptResult) => {
        if (!settled) settle(result);
        settled = true;
      };
      const req = (https ? httpsRequest : httpRequest)(
        url,
        { method: 'POST', headers: init.headers, agent: https ? agents['https:'] : agents['http:'], lookup, signal },
        (res) => {
          const retryAfter = res.headers['retry-after'];
          finish(answered(res.statusCode ?? 0, typeof retryAfter === 'string' ? retryAfter : null));
          res.destroy();
        },
      );
      req.on('error', (error) => {
        finish({ status: null, error: failureKind(error, signal.aborted), retryAfter: null, ...(error instanceof EndpointRefused ? { refused: true } : {}) });
      });
      req.end(init.body);
    });
  };
}

/**
 * A Web Push message (RFC 8030) to the subscription's push service, its payload
 * encrypted for the subscription (RFC 8291, aes128gcm) and signed with VAPID
 * (RFC 8292) by the web-push package, sent by guardedPost under the push endpoint
 * rules. A subscription removed since the delivery was queued makes the delivery "gone".
 */
export function pushSender(
  db: SqlDatabase,
  vapid: { subject: string; publicKey: string; privateKey: string },
  ttlSeconds: number,
  policy: PushEndpointPolicy,
  resolve: Resolver = systemResolver,
): Sender {
  const post = guardedPost(policy, resolve);
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
