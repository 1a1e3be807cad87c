import type { RequestHandler } from 'express';
import type { Counter, Histogram } from 'prom-client';

export interface HttpMetricsSink {
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  refused: Counter<'reason'>;
}

/**
 * Counts and times every request once it is answered (or abandoned: status
 * `aborted`), labelled by the route pattern, never the raw path, so ids do not become
 * series. `routeOf` names the pattern of a request no router matched (a 401 from an
 * auth middleware still counts under its route); anything else is `unmatched`.
 */
export function httpMetrics(sink: HttpMetricsSink, routeOf: (method: string, path: string) => string | null): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const matched = req.route as { path?: unknown } | undefined;
      const route =
        typeof matched?.path === 'string' ? `${req.baseUrl}${matched.path}` : (routeOf(req.method, req.path) ?? 'unmatched');
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      const labels = { method: req.method, route, status };
      sink.httpRequests.inc(labels);
      sink.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      if (res.statusCode === 503 && route !== '/readyz') sink.refused.inc({ reason: 'http_unavailable' });
    });
    next();
  };
}
