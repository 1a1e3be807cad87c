/**
 * A marketplace page on another origin calls the API from Chromium (playwright-core,
 * Debian's /usr/bin/chromium): ALLOWED_ORIGINS governs CORS on /api, preflight
 * included. The page is served by a little server of its own on another origin; the
 * browser does the CORS checks, so what passes here passes for a real marketplace app.
 * Skipped, with one line saying so, where /usr/bin/chromium is absent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { describeInChromium, launchChromium } from '../support/browser';
import { openRoom } from '../support/http';
import { startTestServer, type TestServer } from '../support/server';
import { tokenFor } from '../support/tokens';

declare function fetch(url: string, init?: object): Promise<{ status: number; json(): Promise<unknown>; headers: { get(name: string): string | null } }>;

/** A page of the "marketplace", on an origin of its own. */
async function pageServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end('<!doctype html><title>marketplace</title><p>marketplace page</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** What the page's own fetch sees: the answer, or the error a refused CORS check gives. */
function callFromPage(page: Page, url: string, init: { method?: string; token: string; body?: unknown }) {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const response = await fetch(url, {
          method: init.method ?? 'GET',
          headers: { authorization: `Bearer ${init.token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        });
        const text = response.status === 204 ? null : await response.json();
        return { status: response.status, body: text, requestId: response.headers.get('x-request-id') };
      } catch (error) {
        return { failed: String(error) };
      }
    },
    { url, init },
  );
}

describeInChromium('cors browser e2e')('the API called from a page on another origin, in Chromium', () => {
  let allowedPage: { server: Server; port: number };
  let otherPage: { server: Server; port: number };
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    allowedPage = await pageServer();
    otherPage = await pageServer();
    // The allowed page by name (localhost), the refused one by address: two origins, neither the API's.
    server = await startTestServer('postgres', { env: { ALLOWED_ORIGINS: `http://localhost:${allowedPage.port}` } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await server?.database.drop();
    allowedPage?.server.close();
    otherPage?.server.close();
  });

  it('lets an allowed origin read and write with a bearer token (preflighted), and exposes the request id', async () => {
    const room = await openRoom(server.url, 'cors-lena', 'cors-minho');
    const page = await browser.newPage();
    await page.goto(`http://localhost:${allowedPage.port}/`);
    const token = tokenFor('cors-minho');

    const list = await callFromPage(page, `${server.url}/api/rooms`, { token });
    expect(list).toMatchObject({ status: 200, body: { rooms: [{ roomId: room.roomId }] } });
    expect((list as { requestId: string }).requestId).toMatch(/\S+/);

    const sent = await callFromPage(page, `${server.url}/api/rooms/${room.roomId}/messages`, {
      method: 'POST',
      token,
      body: { clientMessageId: 'a2b1c3d4-0000-4000-8000-000000000001', body: 'hello from the marketplace page' },
    });
    expect(sent).toMatchObject({ status: 201, body: { message: { seq: 1, body: 'hello from the marketplace page' } } });
    const blocked = await callFromPage(page, `${server.url}/api/rooms/${room.roomId}/block`, { method: 'DELETE', token });
    expect(blocked).toMatchObject({ status: 204 });
    // An error answer is readable too (the page can tell 401 from a network failure).
    expect(await callFromPage(page, `${server.url}/api/rooms`, { token: 'not-a-token' })).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    await page.close();
  });

  it('refuses a page on an origin ALLOWED_ORIGINS does not name: the browser blocks the call, and no write happens', async () => {
    const room = await openRoom(server.url, 'cors-lena2', 'cors-minho2');
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${otherPage.port}/`);
    const token = tokenFor('cors-minho2');
    expect(await callFromPage(page, `${server.url}/api/rooms`, { token })).toEqual({ failed: expect.stringContaining('Failed to fetch') });
    expect(
      await callFromPage(page, `${server.url}/api/rooms/${room.roomId}/messages`, {
        method: 'POST',
        token,
        body: { clientMessageId: 'a2b1c3d4-0000-4000-8000-000000000002', body: 'should never be stored' },
      }),
    ).toEqual({ failed: expect.stringContaining('Failed to fetch') });
    const history = await fetch(`${server.url}/api/rooms/${room.roomId}/messages`, { headers: { authorization: `Bearer ${token}` } });
    expect(await history.json()).toEqual({ messages: [], hasMore: false });
    await page.close();
  });

  it('answers no CORS headers on the internal routes, whatever the origin', async () => {
    const preflight = await fetch(`${server.url}/api/internal/posts/p1`, {
      method: 'OPTIONS',
      headers: { origin: `http://localhost:${allowedPage.port}`, 'access-control-request-method': 'PUT' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });
});
