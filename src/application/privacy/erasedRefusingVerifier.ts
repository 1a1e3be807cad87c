import { InvalidTokenError, type Principal, type TokenVerifier } from '../ports/auth';
import type { ErasedUsers } from './erasedUsers';

/** An erased user's token is refused (401) everywhere tokens are checked: HTTP, the WebSocket handshake, an `auth` frame. */
export class ErasedRefusingVerifier implements TokenVerifier {
  constructor(
    private readonly inner: TokenVerifier,
    private readonly erased: Pick<ErasedUsers, 'has'>,
  ) {}

  async verify(token: string): Promise<Principal> {
    const principal = await this.inner.verify(token);
    if (this.erased.has(principal.userId)) throw new InvalidTokenError('the account was erased');
    return principal;
  }
}
