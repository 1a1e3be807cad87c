/**
 * When a delivery is tried again, and when it is given up: exponential backoff with
 * jitter, a receiver's Retry-After honoured, all within a retry window.
 */

export type ResponseClass = 'delivered' | 'retry' | 'dead' | 'gone';

/**
 * 2xx delivered. Timeouts, network errors (no status), 408, 429 and 5xx are worth
 * another try. A push service's 404/410 means the subscription is gone. Any other
 * status (other 4xx, and 3xx: redirects are not followed) will not change by retrying.
 */
export function classifyResponse(status: number | null, channel: 'webhook' | 'push'): ResponseClass {
  if (status === null) return 'retry';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  if (channel === 'push' && (status === 404 || status === 410)) return 'gone';
  return 'dead';
}

const BASE_DELAY_MS = 1_000;
const MAX_DELAY_MS = 60 * 60_000;

/**
 * The wait before attempt `attempt + 1` after `attempt` failed (1-based): 1 s, 2 s,
 * 4 s… capped at an hour, each drawn between half and all of it ("equal jitter"),
 * so receivers that failed together are not all retried at the same instant.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: Date): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now.getTime());
}

/** The longest wait a receiver's Retry-After can ask for; past it the backoff's own ceiling rules. */
export const MAX_RETRY_AFTER_MS = MAX_DELAY_MS;

/**
 * When to try again, or null to give up (dead letter): the backoff, or the receiver's
 * Retry-After when it asks for longer (up to MAX_RETRY_AFTER_MS). A Retry-After shorter
 * than the backoff (`0`) cannot make the service hammer a receiver; given up when the
 * next attempt would fall past `retryUntil`.
 */
export function nextAttemptAt(options: { attempt: number; now: Date; retryUntil: Date; retryAfterMs: number | null; random?: () => number }): Date | null {
  const backoff = backoffMs(options.attempt, options.random);
  const delay = options.retryAfterMs === null ? backoff : Math.min(Math.max(options.retryAfterMs, backoff), Math.max(MAX_RETRY_AFTER_MS, backoff));
  const at = new Date(options.now.getTime() + delay);
  return at.getTime() > options.retryUntil.getTime() ? null : at;
}
