import type { RequestHandler } from 'express';

/**
 * CORS for the API a web app on another origin calls with a bearer token: `/api/*`
 * (except `/api/internal/*`, which is for the marketplace's backend, never a browser)
 * and `/openapi.json`. The origins are ALLOWED_ORIGINS, as for the WebSocket; unset,
 * any origin (as for the WebSocket, with the start-up warning). No credentials mode:
 * the API authenticates by the `Authorization` header, never by cookies, so a page can
 * only act with a token it holds. A preflight is answered here, before authentication
 * (browsers send it without the header). Four headers do not need a library.
 */
export function corsForApi(allowedOrigins: readonly string[] | null): RequestHandler {
  const allowed = allowedOrigins === null ? null : new Set(allowedOrigins);
  return (req, res, next) => {
    const applies = (req.path.startsWith('/api/') && !req.path.startsWith('/api/internal/')) || req.path === '/openapi.json';
    const origin = req.headers.origin;
    if (!applies || origin === undefined) return next();
    res.vary('Origin');
    const permitted = allowed === null || allowed.has(origin);
    if (permitted) {
      res.setHeader('access-control-allow-origin', allowed === null ? '*' : origin);
      res.setHeader('access-control-expose-headers', 'Retry-After, WWW-Authenticate, X-Request-Id');
    }
    if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return next();
    // A preflight: 204 either way; without the allow headers the browser refuses the call.
    if (permitted) {
      res.setHeader('access-control-allow-methods', 'GET, POST, PUT, DELETE');
      res.setHeader('access-control-allow-headers', 'Authorization, Content-Type, X-Request-Id');
      res.setHeader('access-control-max-age', '600');
    }
    res.status(204).end();
  };
}
