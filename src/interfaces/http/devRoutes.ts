import { Router } from 'express';
import type { TokenIssuer } from '../../application/ports/tokenIssuer';
import { jsonBody } from './requestContext';
import { jsonObject, parseInput, text } from '../validation';

export const sessionBody = jsonObject({
  userId: text(1, 64, { notBlank: true }).refine((id) => !id.startsWith('system:'), { error: 'may not start with "system:"' }),
});

/** In development mode the demo sign-in as this user name makes a moderator (docs/moderation.md). */
export const DEV_MODERATOR = 'mod';

/**
 * `POST /api/dev/session {userId}` → `{userId, token, expiresAt}`: the demo app's sign-in.
 * Mounted only in development mode (main.ts), so elsewhere the route does not exist (404).
 * Anyone can be anyone here: that is what development secrets already allow.
 */
export function devRoutes(deps: { issuer: TokenIssuer }): Router {
  const router = Router();
  router.post('/api/dev/session', jsonBody, (req, res) => {
    const { userId } = parseInput(sessionBody, req.body, 'body');
    const id = userId.trim();
    const { token, expiresAt } = deps.issuer.issue(id, id === DEV_MODERATOR ? ['moderator'] : []);
    res.status(200).json({ userId: id, token, expiresAt: expiresAt.toISOString() });
  });
  return router;
}
