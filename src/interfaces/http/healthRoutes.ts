import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  /** Throws or resolves false when a store cannot be reached, or the projections are behind. */
  ready(): Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  metrics: Registry;
}

export function healthRoutes(health: HealthChecks): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const result = await health.ready().catch(() => ({ ready: false, checks: {} }));
    res.status(result.ready ? 200 : 503).json({ status: result.ready ? 'ready' : 'not_ready', checks: result.checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(health.metrics.contentType).send(await health.metrics.metrics());
  });
  return router;
}
