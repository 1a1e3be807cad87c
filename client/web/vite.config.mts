import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The reference app, built into dist/web, which the service serves at `/`. No React plugin:
 * Vite's own transform handles TSX (the automatic JSX runtime); there is no dev server
 * workflow to speed up with fast refresh. Nothing is inlined, so the strict CSP
 * (script-src 'self', style-src 'self') holds. `public/` (Vite's default publicDir) is
 * copied as is: the Web Push worker `chat-sw.js` lands at the site root, so its scope is
 * the whole app.
 */
export default defineConfig({
  root: here,
  base: '/',
  build: {
    outDir: path.resolve(here, '../../dist/web'),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  oxc: { jsx: { runtime: 'automatic' } },
});
