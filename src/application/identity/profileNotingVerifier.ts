import type { Principal, TokenVerifier } from '../ports/auth';
import type { UserProfiles } from '../ports/userProfiles';

/**
 * Verifies as `inner` does, and passes the profile an accepted token carries (its `name`
 * and `picture` claims) to `profiles`: every way in (HTTP, the WebSocket handshake, an
 * `auth` frame) keeps the participants' names current without knowing about them.
 */
export class ProfileNotingVerifier implements TokenVerifier {
  constructor(
    private readonly inner: TokenVerifier,
    private readonly profiles: UserProfiles,
  ) {}

  async verify(token: string): Promise<Principal> {
    const principal = await this.inner.verify(token);
    if (principal.profile !== null) this.profiles.noteSeen(principal.userId, principal.profile);
    return principal;
  }
}
