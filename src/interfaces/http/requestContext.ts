import { randomUUID } from 'node:crypto';
import express, { type RequestHandler, type Response } from 'express';
import type { Principal } from '../../application/ports/auth';

/** A caller's x-request-id is kept when it looks like an id; anything else gets a fresh one. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Largest JSON body a route accepts; a larger one is answered with 413 payload_too_large. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/**
 * Gives every request a correlation id: the caller's `x-request-id` when it is sane,
 * else a random UUID. It is echoed in the response header, logged with failures, and
 * recorded as the `correlationId` of every event the request causes.
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const offered = req.get('x-request-id');
    const id = offered !== undefined && SANE_REQUEST_ID.test(offered) ? offered : randomUUID();
    res.locals.requestId = id;
    res.setHeader('x-request-id', id);
    next();
  };
}

/** JSON bodies only; routes put it after authentication, so strangers' bodies are never parsed. */
export const jsonBody: RequestHandler = express.json({ limit: MAX_JSON_BODY_BYTES, strict: true });

export function requestIdOf(res: Response): string {
  const id: unknown = res.locals.requestId;
  return typeof id === 'string' ? id : randomUUID();
}

export function setPrincipal(res: Response, principal: Principal): void {
  res.locals.principal = principal;
}

/** The authenticated caller; only reachable behind the authenticate middleware. */
export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (principal === undefined) throw new Error('route is missing the authenticate middleware');
  return principal;
}

/** Who is acting, as the use cases take it. */
export function actorOf(res: Response): { userId: string; correlationId: string } {
  return { userId: principalOf(res).userId, correlationId: requestIdOf(res) };
}
