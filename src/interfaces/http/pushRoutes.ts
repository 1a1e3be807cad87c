import { Router, type Response } from 'express';
import type { TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import type { UserBudgets } from '../../application/limits/userBudgets';
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
    /**
     * Why push may not go to this endpoint (the push endpoint rules: known push
     * services, https on 443, public addresses), or null when it may.
     */
    endpointRefusal(endpoint: string): Promise<string | null>;
  } | null;
  verifier: TokenVerifier;
  logger: Logger;
  /** Subscribing draws from the caller's command budget: each subscription is a fan-out target. */
  budgets: Pick<UserBudgets, 'take' | 'refusal'>;
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

  const spend = async (userId: string, res: Response): Promise<void> => {
    if (await deps.budgets.take('command', userId)) return;
    res.setHeader('retry-after', '1');
    throw new ApiError('rate_limited', deps.budgets.refusal('command'));
  };

  router.get('/api/push/vapid-public-key', (_req, res) => {
    res.json({ publicKey: enabled().publicKey });
  });

  router.post('/api/push/subscriptions', async (req, res) => {
    const push = enabled();
    const { endpoint: url, keys } = parseInput(subscribeBody, req.body, 'body');
    const userId = principalOf(res).userId;
    await spend(userId, res);
    const refusal = await push.endpointRefusal(url);
    if (refusal !== null) throw new ApiError('bad_request', `endpoint: ${refusal}`);
    await push.subscriptions.save(userId, { endpoint: url, keys });
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
