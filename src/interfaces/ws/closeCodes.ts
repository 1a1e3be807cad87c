/** The close codes of the contract, and why each is sent. */
export const CloseCode = {
  /** The server is stopping: reconnect (to another process) and `resume`. */
  goingAway: 1001,
  /** Policy violation: an `auth` frame for another user, or too many frames waiting to be handled. */
  policyViolation: 1008,
  /** A frame larger than WS_MAX_FRAME_BYTES (sent by `ws` itself, through `maxPayload`). */
  frameTooBig: 1009,
  /** An unexpected server fault that leaves this connection unable to keep its delivery promise. */
  serverError: 1011,
  /** The token's `exp` passed without an `auth` frame replacing it. */
  tokenExpired: 4001,
  /** The user's account was erased (v1.2): their tokens are refused from now on; clients must not reconnect. */
  accountErased: 4003,
  /** The connection's unsent buffer passed its limit: reconnect and `resume`. */
  tooSlow: 4008,
  /** The client kept sending well past the rate limit after `rate_limited` errors. */
  rateLimited: 4029,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

export const RATE_LIMITED_CLOSE_REASON = 'rate limited: kept sending well past the limit';
