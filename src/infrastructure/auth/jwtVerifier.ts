import jwt, { type JwtPayload } from 'jsonwebtoken';
import { InvalidTokenError, type Principal, type TokenVerifier } from '../../application/ports/auth';
import type { UserProfile } from '../../application/ports/userProfiles';
import type { Config } from '../../config';

/**
 * Verifies tokens as the contract says: the algorithm is pinned by configuration
 * (never read from the token), `exp` is required (jsonwebtoken would accept a token
 * without one), `iss`/`aud` are checked when configured, with a small clock tolerance.
 * A `crit` header is refused: it names extensions the verifier must understand
 * (RFC 7515 §4.1.11), and this one understands none (jsonwebtoken ignores `crit`).
 */
export class JwtVerifier implements TokenVerifier {
  constructor(private readonly settings: Config['jwt']) {}

  verify(token: string): Principal {
    let payload: string | JwtPayload;
    try {
      const verified = jwt.verify(token, this.settings.key, {
        algorithms: [this.settings.algorithm],
        clockTolerance: this.settings.clockToleranceSeconds,
        complete: true,
        ...(this.settings.issuer !== null ? { issuer: this.settings.issuer } : {}),
        ...(this.settings.audience !== null ? { audience: this.settings.audience } : {}),
      });
      if (Object.hasOwn(verified.header, 'crit')) throw new InvalidTokenError('token has a crit header naming extensions this service does not understand');
      payload = verified.payload;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      throw new InvalidTokenError(error instanceof Error ? error.message : 'invalid token');
    }
    if (typeof payload === 'string') throw new InvalidTokenError('token payload is not a JSON object');
    // A Date holds up to 8.64e15 ms; an exp past that would make expiry timers misfire.
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp) || payload.exp * 1000 > 8.64e15) {
      throw new InvalidTokenError('token has no usable exp claim');
    }
    // A user id is stored as PostgreSQL text, which cannot hold NUL or lone surrogates.
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256 || !sub.isWellFormed() || sub.includes('\u0000')) {
      throw new InvalidTokenError('token has no usable sub claim');
    }
    // `system:` actors are the service's own (the scheduler, the marketplace): no user may act as one.
    if (sub.startsWith('system:')) throw new InvalidTokenError('sub may not start with "system:"');
    const roles: unknown = (payload as { roles?: unknown }).roles;
    if (roles !== undefined && (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string'))) {
      throw new InvalidTokenError('roles claim must be an array of strings');
    }
    return { userId: sub, roles: (roles as string[] | undefined) ?? [], expiresAt: new Date(payload.exp * 1000), profile: profileOf(payload) };
  }
}

/**
 * The OIDC `name` and `picture` claims, when usable: a name of 1–64 characters (after
 * trimming; no control characters), a picture that is an https URL without credentials.
 * A claim that is not usable counts as absent: it never costs the user their token.
 */
export function profileOf(payload: Record<string, unknown>): UserProfile | null {
  if (payload.name === undefined && payload.picture === undefined) return null;
  return { name: usableName(payload.name), picture: usablePicture(payload.picture) };
}

function usableName(claim: unknown): string | null {
  if (typeof claim !== 'string') return null;
  const name = claim.trim();
  const length = [...name].length;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (length < 1 || length > 64 || !name.isWellFormed() || /[\u0000-\u001f\u007f-\u009f]/.test(name)) return null;
  return name;
}

function usablePicture(claim: unknown): string | null {
  if (typeof claim !== 'string' || claim.length > 2048) return null;
  try {
    const url = new URL(claim);
    if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return null;
    return url.href;
  } catch {
    return null;
  }
}
