import { Router } from 'express';
import { z } from 'zod';
import type { ErasureRecord } from '../../application/ports/erasures';
import type { ErasureProcess } from '../../application/privacy/erasureProcess';
import { SYSTEM_SENDER } from '../../domain/room';
import { ApiError } from '../errors';
import { parseInput, text } from '../validation';
import { internalToken } from './auth';
import { requestIdOf } from './requestContext';

export interface ErasureRoutesDeps {
  erasures: Pick<ErasureProcess, 'request' | 'find'>;
  internalApiToken: string;
}

export const erasureUserParams = z.object({
  userId: text(1, 256).refine((id) => id !== SYSTEM_SENDER, { error: `"${SYSTEM_SENDER}" is the marketplace's own sender (its notices) and cannot be erased` }),
});
export const erasureIdParams = z.object({ erasureId: z.string().uuid({ error: 'must be an erasure id (a UUID)' }) });

/** The contract's `erasure` object. */
export function erasureView(erasure: ErasureRecord) {
  return {
    erasureId: erasure.erasureId,
    userId: erasure.userId,
    status: erasure.status,
    requestedAt: erasure.requestedAt,
    completedAt: erasure.completedAt,
    counts: erasure.counts,
  };
}

/**
 * The marketplace erases a user (docs/privacy.md): asked once, answered with the erasure,
 * which a durable process then carries out; asked again, the same erasure.
 */
export function erasureRoutes(deps: ErasureRoutesDeps): Router {
  const router = Router();
  const asMarketplace = internalToken(deps.internalApiToken);
  router.post('/api/internal/users/:userId/erasure', asMarketplace, async (req, res) => {
    const { userId } = parseInput(erasureUserParams, req.params, 'params');
    const erasure = await deps.erasures.request(userId, requestIdOf(res));
    res.status(202).json({ erasure: erasureView(erasure) });
  });
  router.get('/api/internal/erasures/:erasureId', asMarketplace, async (req, res) => {
    const { erasureId } = parseInput(erasureIdParams, req.params, 'params');
    const erasure = await deps.erasures.find(erasureId);
    if (erasure === null) throw new ApiError('not_found', `no erasure ${erasureId}`);
    res.json({ erasure: erasureView(erasure) });
  });
  return router;
}
