import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DEMO_POSTS } from '../../../src/application/demo/demoPosts';
import { call, as, eventually } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../../support/tokens';

/** The routes the web app stands on: the post list, the development sign-in, the app's files. */
describe('routes for the web app', () => {
  describe('with configured secrets (not development mode)', () => {
    let server: TestServer;
    let webRoot: string;
    beforeAll(async () => {
      webRoot = mkdtempSync(path.join(tmpdir(), 'chat-web-'));
      mkdirSync(path.join(webRoot, 'assets'));
      writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>Chat</title><div id="root"></div>');
      writeFileSync(path.join(webRoot, 'assets', 'app-3f2a.js'), 'console.log("app")');
      server = await startTestServer('postgres', { webRoot });
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
      rmSync(webRoot, { recursive: true, force: true });
    });

    it('has no development sign-in: POST /api/dev/session is 404 and no demo post exists', async () => {
      const response = await call(server.url, 'POST', '/api/dev/session', { json: { userId: 'lena' } });
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
      const posts = await as(server.url, tokenFor('reader')).get('/api/posts');
      expect(posts.body.posts.map((p: { postId: string }) => p.postId)).not.toContain(DEMO_POSTS[0].postId);
    });

    it('pages through every post newest first, with a cursor, and refuses a made-up cursor or limit', async () => {
      const marketplace = as(server.url, TEST_INTERNAL_TOKEN);
      const ids = Array.from({ length: 5 }, (_, i) => `list-${i}-${randomUUID().slice(0, 8)}`);
      for (const [i, postId] of ids.entries()) {
        expect((await marketplace.put(`/api/internal/posts/${postId}`, { ownerId: 'lena', title: `Post ${i} 카메라 📷` })).status).toBe(200);
      }
      const reader = as(server.url, tokenFor('reader'));
      const seen: Array<{ postId: string; ownerId: string; title: string }> = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: { posts: typeof seen; nextCursor: string | null } } = await reader.get(
          `/api/posts?limit=2${cursor !== null ? `&cursor=${cursor}` : ''}`,
        );
        expect(page.status).toBe(200);
        expect(page.body.posts.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.posts);
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      expect(seen.map((p) => p.postId)).toEqual([...ids].reverse());
      expect(seen[0]).toEqual({ postId: ids[4], ownerId: 'lena', title: 'Post 4 카메라 📷' });

      expect((await reader.get('/api/posts?limit=0')).body.error.message).toMatch(/^limit: /);
      expect((await reader.get('/api/posts?cursor=bm90LWEtY3Vyc29y')).status).toBe(400);
      expect((await call(server.url, 'GET', '/api/posts')).status).toBe(401);
    });

    it('serves the app at / with a Content-Security-Policy; hashed assets cached for a year, the page revalidated', async () => {
      const page = await call(server.url, 'GET', '/');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.text).toContain('<div id="root">');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      // Framed by its own origin only, as ALLOWED_ORIGINS is unset here.
      expect(csp).toMatch(/frame-ancestors 'self'$/);

      const asset = await call(server.url, 'GET', '/assets/app-3f2a.js');
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await call(server.url, 'GET', '/assets/missing.js')).status).toBe(404);
      // The API is untouched by the static files.
      expect((await call(server.url, 'GET', '/api/rooms')).status).toBe(401);
    });
  });

  describe('in development mode (no JWT secret configured)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer('postgres', { env: { JWT_SECRET: '' } });
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
    });

    it('signs anyone in by user name with a token the API accepts, and refuses a blank or system name', async () => {
      const session = await call(server.url, 'POST', '/api/dev/session', { json: { userId: '민지' } });
      expect(session.status).toBe(200);
      expect(session.body).toEqual({ userId: '민지', token: expect.any(String), expiresAt: expect.any(String) });
      expect(Date.parse(session.body.expiresAt)).toBeGreaterThan(Date.now() + 30 * 60_000);
      expect((await as(server.url, session.body.token).get('/api/rooms')).status).toBe(200);

      for (const userId of ['', '   ', 'system:scheduler', 42]) {
        const refused = await call(server.url, 'POST', '/api/dev/session', { json: { userId } });
        expect(refused.status).toBe(400);
        expect(refused.body.error.message).toMatch(/^userId: /);
      }
    });

    it('has the demo posts of two demo lenders, and a borrower can open a room on one', async () => {
      const { token } = (await call(server.url, 'POST', '/api/dev/session', { json: { userId: 'bora' } })).body;
      const bora = as(server.url, token);
      await eventually(async () => (await bora.get('/api/posts?limit=100')).body.posts.length >= DEMO_POSTS.length, 10_000, 'demo posts');
      const posts = (await bora.get('/api/posts?limit=100')).body.posts as Array<{ postId: string; ownerId: string }>;
      expect(new Set(posts.map((p) => p.ownerId))).toEqual(new Set(DEMO_POSTS.map((p) => p.ownerId)));
      expect(new Set(DEMO_POSTS.map((p) => p.ownerId)).size).toBe(2);
      const opened = await bora.post('/api/rooms', { postId: DEMO_POSTS[1].postId });
      expect(opened.status).toBe(201);
      expect(opened.body.room).toMatchObject({ lenderId: DEMO_POSTS[1].ownerId, borrowerId: 'bora', postTitle: DEMO_POSTS[1].title });
    });
  });
});
