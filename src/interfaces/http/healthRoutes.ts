import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  /** Throws or resolves false when a store cannot be reached, or the projections are too far behind. */
  ready(): Promise<{ ready: boolean; checks: Record<string, boolean>; details?: Record<string, unknown> }>;
  /** Serve `/metrics` here too. Absent when METRICS_PORT moves it to a port of its own. */
  metrics?: Registry;
}

export function healthRoutes(health: HealthChecks): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const result = await health.ready().catch(() => ({ ready: false, checks: {}, details: undefined }));
    res.status(result.ready ? 200 : 503).json({
      status: result.ready ? 'ready' : 'not_ready',
      checks: result.checks,
      ...(result.details !== undefined ? { details: result.details } : {}),
    });
  });
  if (health.metrics !== undefined) router.use(metricsRoutes(health.metrics));
  return router;
}

/** `GET /metrics`, Prometheus text. */
export function metricsRoutes(metrics: Registry): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  return router;
}
