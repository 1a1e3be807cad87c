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

/** Verifies a bearer token as the contract's Auth section says; throws InvalidTokenError otherwise. */
export interface TokenVerifier {
  verify(token: string): Principal;
}

export class InvalidTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidTokenError';
  }
}
