import { Router } from 'express';
import { z } from 'zod';
import type { TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import { authenticate } from './auth';
import { ApiError } from './errors';
import { jsonBody, principalOf } from './requestContext';
import { jsonObject, parseInput } from './validation';

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

const base64urlBytes = (bytes: number, what: string) =>
  z
    .string({ error: `must be ${what} in URL-safe base64` })
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, { error: `must be ${what} in URL-safe base64` })
    .refine((s) => Buffer.from(s, 'base64url').length === bytes, { error: `must be ${what} (${bytes} bytes) in URL-safe base64` });

function endpointSchema(allowLoopbackHttp: boolean) {
  const message = 'must be the https:// URL of a push service (PushSubscription.endpoint)';
  return z
    .string({ error: message })
    .max(2048, { error: 'must be at most 2048 characters' })
    .refine(
      (text) => {
        let url: URL;
        try {
          url = new URL(text);
        } catch {
          return false;
        }
        if (url.protocol === 'https:') return true;
        return allowLoopbackHttp && url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
      },
      { error: message },
    );
}

/**
 * The caller's Web Push subscriptions (the browser's PushSubscription, as
 * `subscription.toJSON()` gives it), and the VAPID public key the browser subscribes with.
 */
export function pushRoutes(deps: PushRoutesDeps): Router {
  const router = Router();
  router.use('/api/push', authenticate(deps.verifier, deps.logger), jsonBody);
  const endpoint = endpointSchema(deps.allowLoopbackHttp);
  const subscribeBody = jsonObject({
    endpoint,
    keys: z.object(
      { p256dh: base64urlBytes(65, 'an uncompressed P-256 public key'), auth: base64urlBytes(16, 'a 16-byte secret') },
      { error: 'must be an object {p256dh, auth}' },
    ),
  });
  const unsubscribeBody = jsonObject({ endpoint });

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
