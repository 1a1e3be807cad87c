import { Router } from 'express';
import type { TokenIssuer } from '../../application/ports/tokenIssuer';
import { jsonBody } from './requestContext';
import { jsonObject, parseInput, text } from '../validation';

export const sessionBody = jsonObject({
  userId: text(1, 64, { notBlank: true }).refine((id) => !id.startsWith('system:'), { error: 'may not start with "system:"' }),
});

/**
 * `POST /api/dev/session {userId}` → `{userId, token, expiresAt}`: the demo app's sign-in.
 * Mounted only in development mode (main.ts), so elsewhere the route does not exist (404).
 * Anyone can be anyone here: that is what development secrets already allow.
 */
export function devRoutes(deps: { issuer: TokenIssuer }): Router {
  const router = Router();
  router.post('/api/dev/session', jsonBody, (req, res) => {
    const { userId } = parseInput(sessionBody, req.body, 'body');
    const { token, expiresAt } = deps.issuer.issue(userId.trim());
    res.status(200).json({ userId: userId.trim(), token, expiresAt: expiresAt.toISOString() });
  });
  return router;
}
