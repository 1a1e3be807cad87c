import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { InvalidTokenError, type Principal, type TokenVerifier } from '../../application/ports/auth';
import type { UserProfile } from '../../application/ports/userProfiles';
import { UnavailableError } from '../../application/unavailable';
import type { Config } from '../../config';

/** How the JWKS is cached: kept this long, fetched again at most this often for a key id it lacks, each fetch this long at most. */
export interface JwksTuning {
  cacheMaxAgeMs: number;
  cooldownMs: number;
  timeoutMs: number;
}
export const defaultJwksTuning: JwksTuning = { cacheMaxAgeMs: 10 * 60_000, cooldownMs: 30_000, timeoutMs: 5_000 };

/** One key a token may be signed with, and the one algorithm it is for (pinned by configuration, never read from the token). */
interface StaticKey {
  algorithm: 'HS256' | 'RS256' | 'ES256';
  key: Uint8Array | KeyObject;
}

/**
 * Verifies tokens, with jose: the algorithm is pinned by configuration (never read from
 * the token), `exp` is required, `iss`/`aud` are checked when configured, with a small
 * clock tolerance; a `crit` header naming an extension is refused (RFC 7515 §4.1.11).
 *
 * Several keys at once, so keys rotate without downtime: the JWT_SECRET or JWT_PUBLIC_KEY
 * list (newest first, each key tried in turn), or the identity provider's JWKS
 * (JWT_JWKS_URL): fetched when first needed, kept for 10 minutes, fetched again at once
 * (at most every 30 s) when a token names a key id it lacks. A JWKS that cannot be
 * fetched is `unavailable` (503), not a refused token.
 */
export class JwtVerifier implements TokenVerifier {
  private readonly staticKeys: StaticKey[];
  private readonly jwks: JWTVerifyGetKey | null;

  constructor(
    private readonly settings: Config['jwt'],
    jwksTuning: JwksTuning = defaultJwksTuning,
  ) {
    this.staticKeys = settings.keys.map(({ algorithm, key }) => ({
      algorithm,
      key: algorithm === 'HS256' ? new TextEncoder().encode(key) : createPublicKey(key),
    }));
    this.jwks =
      settings.jwksUrl === null
        ? null
        : createRemoteJWKSet(new URL(settings.jwksUrl), {
            cacheMaxAge: jwksTuning.cacheMaxAgeMs,
            cooldownDuration: jwksTuning.cooldownMs,
            timeoutDuration: jwksTuning.timeoutMs,
          });
  }

  async verify(token: string): Promise<Principal> {
    return principalOf(await this.verifiedPayload(token));
  }

  private options(algorithms: string[]) {
    return {
      algorithms,
      clockTolerance: this.settings.clockToleranceSeconds,
      requiredClaims: ['exp'],
      ...(this.settings.issuer !== null ? { issuer: this.settings.issuer } : {}),
      ...(this.settings.audience !== null ? { audience: this.settings.audience } : {}),
    };
  }

  private async verifiedPayload(token: string): Promise<JWTPayload> {
    try {
      if (this.jwks !== null) return (await jwtVerify(token, this.jwks, this.options(['RS256', 'ES256']))).payload;
      // Newest first: a signature that does not match one key is tried with the next;
      // any other refusal (expired, wrong audience…) is the token's, whichever key.
      let lastError: unknown = new InvalidTokenError('no key is configured');
      for (const { algorithm, key } of this.staticKeys) {
        try {
          return (await jwtVerify(token, key, this.options([algorithm]))).payload;
        } catch (error) {
          if (!(error instanceof joseErrors.JWSSignatureVerificationFailed) && !(error instanceof joseErrors.JOSEAlgNotAllowed)) throw error;
          lastError = error;
        }
      }
      throw lastError;
    } catch (error) {
      throw refusal(error);
    }
  }
}

/** A jose error as this service's: expired or invalid (401), or the JWKS out of reach (503). */
function refusal(error: unknown): Error {
  if (error instanceof InvalidTokenError || error instanceof UnavailableError) return error;
  if (error instanceof joseErrors.JWTExpired) return new InvalidTokenError('token expired');
  // For the debug log: which check failed, in words (the expected issuer or audience is never sent to the client).
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const names: Record<string, string> = { iss: 'issuer', aud: 'audience', nbf: 'not-before', iat: 'issued-at', exp: 'expiry', sub: 'subject' };
    return new InvalidTokenError(`token ${names[error.claim] ?? error.claim} check failed (${error.message})`);
  }
  // The JWKS did not answer, answered an error, or answered something that is no key set.
  const code = (error as { code?: unknown } | null)?.code;
  const jwksFailed =
    error instanceof joseErrors.JWKSTimeout ||
    error instanceof joseErrors.JWKSInvalid ||
    (error instanceof joseErrors.JOSEError && error.code === 'ERR_JOSE_GENERIC' && /JSON Web Key Set/i.test(error.message)) ||
    (!(error instanceof joseErrors.JOSEError) && typeof code === 'string' && /^E[A-Z_]+$/.test(code));
  if (jwksFailed) return new UnavailableError("the identity provider's keys (JWT_JWKS_URL) could not be fetched: retry in a moment");
  return new InvalidTokenError(error instanceof Error ? error.message : 'invalid token');
}

/** What the service takes from a verified payload, checked beyond the signature. */
function principalOf(payload: JWTPayload): Principal {
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
