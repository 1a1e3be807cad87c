import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';

/**
 * The reference web app's Content-Security-Policy: everything from this origin only, no
 * inline script or style, no plugins. `connect-src 'self'` covers the same-origin
 * `ws:`/`wss:` of /chat (CSP Level 3, as Chromium and Firefox do). Framed only by this
 * origin and by `ALLOWED_ORIGINS` (the marketplace pages that embed the app, docs/client.md).
 */
export function webAppCsp(frameAncestors: readonly string[] | null): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    // Participants' pictures come from the identity provider's https URLs (the token's `picture`).
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${["'self'", ...(frameAncestors ?? [])].join(' ')}`,
  ].join('; ');
}

/** Where `npm run build` puts the app (vite: client/web → dist/web), from the project root. */
export function defaultWebRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'web');
}

/**
 * Serves the built app at `/`. Vite names every asset by its content hash, so
 * `/assets/*` is cached for a year, immutable; `index.html` and the Web Push worker
 * `/chat-sw.js` are revalidated on every load so a deploy shows at once. Nothing is
 * served when the app was not built (`/` stays 404).
 */
export function webAppRoutes(root: string, options: { frameAncestors?: readonly string[] | null } = {}): Router {
  const router = Router();
  if (!existsSync(path.join(root, 'index.html'))) return router;
  const csp = webAppCsp(options.frameAncestors ?? null);
  router.use(
    express.static(root, {
      index: 'index.html',
      redirect: false,
      dotfiles: 'ignore',
      setHeaders: (res, filePath) => {
        res.setHeader('content-security-policy', csp);
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader('referrer-policy', 'no-referrer');
        const immutable = path.relative(root, filePath).startsWith(`assets${path.sep}`);
        res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  return router;
}
