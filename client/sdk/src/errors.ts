import type { ErrorCode } from './types.js';

/** Codes after which the same request may succeed later (overload, rate, a fault): the SDK retries these itself. */
export const TEMPORARY_ERRORS: ReadonlySet<string> = new Set(['rate_limited', 'unavailable', 'internal']);

/** An HTTP call the service refused (its `{"error":{code,message}}`), or a network failure (`status` 0). */
export class ChatApiError extends Error {
  /** Whether trying again later may succeed: a network failure, `rate_limited`, `unavailable` or `internal`. */
  readonly temporary: boolean;

  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
    /** Seconds, from `Retry-After` (429, 503). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ChatApiError';
    this.temporary = code === 'network' || TEMPORARY_ERRORS.has(code);
  }
}

/** Codes after which sending the same message again cannot succeed. */
export const PERMANENT_SEND_ERRORS: ReadonlySet<string> = new Set([
  'bad_request',
  'forbidden',
  'not_found',
  'blocked',
  'suspended',
  'room_expired',
  'payload_too_large',
  'unsupported_media_type',
  'own_post',
]);
