import { Router } from 'express';
import type { TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import { authenticate } from './auth';
import { pushSubscriptionSchemas } from './contractSchemas';
import { ApiError } from '../errors';
import { jsonBody, principalOf } from './requestContext';
import { parseInput } from '../validation';

export interface PushRoutesDeps {
  /** Null: Web Push is off (production without VAPID keys). */
  push: {
    publicKey: string;
    subscriptions: {
      save(userId: string, subscription: { endpoint: string; keys: { p256dh: string; auth: string } }): Promise<void>;
      remove(userId: string, endpoint: string): Promise<void>;
    };
  } | null;
  verifier: TokenVerifier;
  logger: Logger;
  /** Development only: push services on the loopback over http (local test receivers). */
  allowLoopbackHttp: boolean;
}

/**
 * The caller's Web Push subscriptions (the browser's PushSubscription, as
 * `subscription.toJSON()` gives it), and the VAPID public key the browser subscribes with.
 */
export function pushRoutes(deps: PushRoutesDeps): Router {
  const router = Router();
  router.use('/api/push', authenticate(deps.verifier, deps.logger), jsonBody);
  const { subscribe: subscribeBody, unsubscribe: unsubscribeBody } = pushSubscriptionSchemas({ allowLoopbackHttp: deps.allowLoopbackHttp });

  const enabled = () => {
    if (deps.push === null) throw new ApiError('not_found', 'Web Push is not enabled on this server (VAPID keys are not configured)');
    return deps.push;
  };

  router.get('/api/push/vapid-public-key', (_req, res) => {
    res.json({ publicKey: enabled().publicKey });
  });

  router.post('/api/push/subscriptions', async (req, res) => {
    const push = enabled();
    const { endpoint: url, keys } = parseInput(subscribeBody, req.body, 'body');
    await push.subscriptions.save(principalOf(res).userId, { endpoint: url, keys });
    res.status(201).json({ subscription: { endpoint: url } });
  });

  router.delete('/api/push/subscriptions', async (req, res) => {
    const push = enabled();
    const { endpoint: url } = parseInput(unsubscribeBody, req.body, 'body');
    await push.subscriptions.remove(principalOf(res).userId, url);
    res.status(204).end();
  });

  return router;
}
