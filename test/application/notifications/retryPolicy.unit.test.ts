import { MAX_RETRY_AFTER_MS, backoffMs, classifyResponse, nextAttemptAt, parseRetryAfter } from '../../../src/application/notifications/retryPolicy';

describe('when a failed delivery is tried again', () => {
  it('retries timeouts, network errors, 408, 429 and 5xx; gives up at once on other 4xx and on redirects', () => {
    expect([null, 408, 429, 500, 502, 503].map((s) => classifyResponse(s, 'webhook'))).toEqual(Array(6).fill('retry'));
    expect([400, 401, 403, 404, 410, 422, 301].map((s) => classifyResponse(s, 'webhook'))).toEqual(Array(7).fill('dead'));
    expect([200, 201, 204].map((s) => classifyResponse(s, 'webhook'))).toEqual(Array(3).fill('delivered'));
  });

  it("treats a push service's 404 and 410 as a subscription that is gone", () => {
    expect(classifyResponse(404, 'push')).toBe('gone');
    expect(classifyResponse(410, 'push')).toBe('gone');
    expect(classifyResponse(400, 'push')).toBe('dead');
  });

  it('waits twice as long after each failure, between half and all of it, never more than an hour', () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(a, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((a) => backoffMs(a, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffMs(40, () => 1)).toBe(3_600_000);
    const draws = Array.from({ length: 50 }, () => backoffMs(5));
    expect(new Set(draws).size).toBeGreaterThan(1);
    expect(draws.every((d) => d >= 8000 && d <= 16000)).toBe(true);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it("follows the receiver's Retry-After, and gives up when the next try would fall past the window", () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const retryUntil = new Date('2026-01-01T00:01:00Z');
    expect(nextAttemptAt({ attempt: 1, now, retryUntil, retryAfterMs: 30_000 })?.toISOString()).toBe('2026-01-01T00:00:30.000Z');
    expect(nextAttemptAt({ attempt: 1, now, retryUntil, retryAfterMs: 90_000 })).toBeNull();
    expect(nextAttemptAt({ attempt: 1, now, retryUntil, retryAfterMs: null, random: () => 1 })?.toISOString()).toBe('2026-01-01T00:00:01.000Z');
    expect(nextAttemptAt({ attempt: 20, now, retryUntil, retryAfterMs: null })).toBeNull();
  });

  it('never retries sooner than the backoff, whatever Retry-After says, nor later than the cap', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const retryUntil = new Date('2026-01-03T00:00:00Z');
    const wait = (attempt: number, retryAfterMs: number) => (nextAttemptAt({ attempt, now, retryUntil, retryAfterMs, random: () => 1 })?.getTime() ?? NaN) - now.getTime();
    // `Retry-After: 0` (a push endpoint asking to be hammered) waits the backoff: 1 s, 2 s, 4 s…
    expect([1, 2, 3, 4].map((attempt) => wait(attempt, 0))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(wait(3, 500)).toBe(4_000);
    // A day's Retry-After is held to the cap.
    expect(wait(1, 86_400_000)).toBe(MAX_RETRY_AFTER_MS);
    expect(MAX_RETRY_AFTER_MS).toBeLessThanOrEqual(3_600_000);
  });
});
