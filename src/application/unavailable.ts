/**
 * The service cannot do this now (overloaded, or a store is behind or unreachable):
 * nothing was done, and the same request may succeed a little later. Answered as the
 * contract's `unavailable` (HTTP 503 with Retry-After; an `error` frame over WebSocket).
 */
export class UnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
