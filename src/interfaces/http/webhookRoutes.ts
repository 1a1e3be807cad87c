import { Router } from 'express';
import { z } from 'zod';
import { internalToken } from './auth';
import { ApiError } from '../errors';
import { integerText, parseInput } from '../validation';

type Channel = 'webhook' | 'push';

export interface WebhookRoutesDeps {
  internalApiToken: string;
  outbox: {
    deadLetters(options: { limit: number; after: string | null; channel: Channel | null }): Promise<{ deadLetters: unknown[]; nextCursor: string | null }>;
    replay(deliveryId: string | null, retryForMs: number): Promise<number>;
    summary(): Promise<{ pending: number; dead: number; oldestPendingAgeSeconds: number }>;
  };
  /** A replayed delivery's new retry window. */
  retryForMs: number;
}

export const deadLettersQuery = z.object({
  limit: integerText(1, 500).optional(),
  // A dead letter's position: a PostgreSQL bigint, so a longer number is no cursor (not a 500).
  cursor: z
    .string({ error: 'must be the nextCursor of a previous page' })
    .regex(/^\d{1,19}$/, { error: 'must be the nextCursor of a previous page' })
    .refine((text) => !/^\d+$/.test(text) || BigInt(text) <= 9_223_372_036_854_775_807n, { error: 'must be the nextCursor of a previous page' })
    .optional(),
  channel: z.enum(['webhook', 'push'], { error: 'must be webhook or push' }).optional(),
});
export const deliveryParams = z.object({
  deliveryId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { error: 'must be a delivery id (a UUID)' }),
});

/** The marketplace's view of deliveries: the queue's state, dead letters, and replaying them. */
export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const router = Router();
  router.use('/api/internal/webhooks', internalToken(deps.internalApiToken));

  router.get('/api/internal/webhooks/status', async (_req, res) => {
    res.json(await deps.outbox.summary());
  });

  router.get('/api/internal/webhooks/dead-letters', async (req, res) => {
    const query = parseInput(deadLettersQuery, req.query, 'query');
    res.json(await deps.outbox.deadLetters({ limit: query.limit ?? 100, after: query.cursor ?? null, channel: query.channel ?? null }));
  });

  router.post('/api/internal/webhooks/dead-letters/replay', async (_req, res) => {
    res.status(202).json({ replayed: await deps.outbox.replay(null, deps.retryForMs) });
  });

  router.post('/api/internal/webhooks/dead-letters/:deliveryId/replay', async (req, res) => {
    const { deliveryId } = parseInput(deliveryParams, req.params, 'params');
    const replayed = await deps.outbox.replay(deliveryId.toLowerCase(), deps.retryForMs);
    if (replayed === 0) throw new ApiError('not_found', `no dead letter ${deliveryId}`);
    res.status(202).json({ replayed });
  });

  return router;
}
