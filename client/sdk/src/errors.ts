import type { ErrorCode } from './types.js';

/** An HTTP call the service refused (its `{"error":{code,message}}`), or a network failure (`status` 0). */
export class ChatApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
    /** Seconds, from `Retry-After` (429, 503). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ChatApiError';
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
