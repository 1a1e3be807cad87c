import type { UserProfile } from './userProfiles';

/** Who a verified token says the caller is. */
export interface Principal {
  userId: string;
  roles: string[];
  /** When the token stops being valid (its `exp`). */
  expiresAt: Date;
  /** The token's `name` and `picture` claims; null when it carries neither. */
  profile: UserProfile | null;
}

/**
 * Verifies a bearer token (docs/http-api.md, "Auth"); rejects with InvalidTokenError, or
 * with UnavailableError when the keys to check it with are out of reach (a JWKS that
 * cannot be fetched). Asynchronous: keys may be looked up remotely.
 */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export class InvalidTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidTokenError';
  }
}
