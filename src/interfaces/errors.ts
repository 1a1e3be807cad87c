import { DomainError } from '../domain/shared/decider';
import { UnavailableError } from '../application/unavailable';
import { ImageRefusedError } from '../application/ports/attachments';

/*
 * The contract's errors, for every interface alike: the HTTP routes answer with them,
 * the WebSocket handshake refuses with them, and frames carry them in `error` frames.
 */

/** The contract's error codes and the HTTP status each one is answered with. */
export const statusOfCode = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  blocked: 403,
  /** The account is suspended: it may read but not write (docs/moderation.md). */
  suspended: 403,
  not_found: 404,
  own_post: 409,
  room_expired: 409,
  payload_too_large: 413,
  /** An upload that is not a JPEG, PNG or WebP image, judged from its bytes (v1.2). */
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  /** Overloaded (the event store's queue, WS_MAX_CONNECTIONS): nothing was done, retry (with Retry-After). */
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof statusOfCode;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(statusOfCode, code);
}

/** An error the interface answers with as is: the contract's code and a message for people. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For `unavailable` and `rate_limited`: when to try again, in seconds (HTTP Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const errorBody = (code: ErrorCode, message: string) => ({ error: { code, message } });

/** Maps any thrown error, once, to the contract's code and a safe message. Unknown errors become `internal`. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof DomainError && isErrorCode(error.code)) return new ApiError(error.code, error.message);
  if (error instanceof ImageRefusedError) {
    const code = ({ unsupported_type: 'unsupported_media_type', too_many_pixels: 'payload_too_large', undecodable: 'bad_request' } as const)[error.reason];
    return new ApiError(code, code === 'bad_request' ? `body: ${error.message}` : error.message);
  }
  if (error instanceof UnavailableError) return new ApiError('unavailable', error.message, error.retryAfterSeconds);
  const e = error as { type?: string; status?: number; expose?: boolean } | null;
  if (e?.type === 'entity.too.large') return new ApiError('payload_too_large', 'the request body is too large');
  if (e?.type === 'entity.parse.failed') return new ApiError('bad_request', 'body: not valid JSON');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new ApiError('bad_request', 'body: unsupported encoding; send UTF-8 JSON');
  }
  // A path parameter that is not valid percent-encoding (express's router marks it 400).
  if (error instanceof URIError && e?.status === 400) return new ApiError('bad_request', 'path: not valid percent-encoding');
  // Any other body-parser refusal (aborted upload, bad content length, ...): the client's doing.
  // A body that cannot be inflated (bad gzip/deflate/br) comes from zlib with expose and a 4xx status.
  if ((typeof e?.type === 'string' || e?.expose === true) && e.status !== undefined && e.status >= 400 && e.status < 500) {
    return new ApiError('bad_request', 'body: could not be read');
  }
  return new ApiError('internal', 'internal server error');
}
