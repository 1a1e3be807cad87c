import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { InvalidTokenError, type TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import { ApiError } from '../errors';
import { refusedTokenMessage } from '../refusedToken';
import { setPrincipal } from './requestContext';

function bearerToken(req: Request): string | null {
  const header = req.get('authorization');
  if (header === undefined) return null;
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  return match === null ? null : (match[1] as string);
}

/** Users' calls: a valid JWT (see JwtVerifier), or 401 unauthorized. */
export function authenticate(verifier: TokenVerifier, logger: Logger): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req);
    if (token === null) {
      res.setHeader('www-authenticate', 'Bearer');
      return next(new ApiError('unauthorized', 'a bearer token is required (Authorization: Bearer <jwt>)'));
    }
    try {
      setPrincipal(res, await verifier.verify(token));
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) return next(error);
      res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
      return next(new ApiError('unauthorized', refusedTokenMessage(error, logger, 'http')));
    }
    next();
  };
}

/**
 * The marketplace backend's calls: `Authorization: Bearer <INTERNAL_API_TOKEN>`.
 * Compared in constant time over SHA-256 digests, which are always the same length,
 * so neither the content nor the length of the token leaks through timing.
 */
export function internalToken(expected: string): RequestHandler {
  const expectedDigest = createHash('sha256').update(expected, 'utf8').digest();
  return (req, _res, next) => {
    const token = bearerToken(req);
    const digest = createHash('sha256').update(token ?? '', 'utf8').digest();
    if (token === null || !timingSafeEqual(digest, expectedDigest)) {
      return next(new ApiError('unauthorized', 'the internal API token is missing or wrong'));
    }
    next();
  };
}
