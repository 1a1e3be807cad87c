import jwt from 'jsonwebtoken';
import type { Clock } from '../../application/ports/clock';
import type { TokenIssuer } from '../../application/ports/tokenIssuer';
import type { Config } from '../../config';

/**
 * Development sign-in: HS256 tokens signed with the development secret the verifier
 * already trusts. Short-lived (an hour), so the demo app exercises token refresh.
 */
export function devTokenIssuer(settings: Config['jwt'], clock: Clock, ttlSeconds = 3600): TokenIssuer {
  if (settings.algorithm !== 'HS256') throw new Error('the development sign-in signs with an HS256 secret only');
  return {
    issue(userId, roles = []) {
      const now = Math.floor(clock.now().getTime() / 1000);
      const token = jwt.sign({ sub: userId, iat: now, exp: now + ttlSeconds, ...(roles.length > 0 ? { roles } : {}) }, settings.key, {
        algorithm: 'HS256',
        ...(settings.issuer !== null ? { issuer: settings.issuer } : {}),
        ...(settings.audience !== null ? { audience: settings.audience } : {}),
      });
      return { token, expiresAt: new Date((now + ttlSeconds) * 1000) };
    },
  };
}
