/**
 * The SDK as a package (client/sdk): `npm pack` builds it (ES modules and type
 * declarations), and what the tarball holds is used as a consumer would use it, against
 * a real server: installed into a project of its own and run from Node, type-checked by
 * TypeScript as a Node (NodeNext) and as a bundler project, and loaded as native ES modules
 * by a marketplace page on another origin in Chromium (skipped, with one line saying so,
 * where /usr/bin/chromium is absent).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { itInChromium, launchChromium } from '../support/browser';
import { startTestServer, type TestServer } from '../support/server';
import { TEST_INTERNAL_TOKEN, tokenFor } from '../support/tokens';
import { call } from '../support/http';

const root = path.resolve(__dirname, '../..');
const sdkDir = path.join(root, 'client/sdk');
const run = promisify(execFile);

describe('the SDK package, packed and used as a consumer would', () => {
  let work: string;
  let consumer: string;
  let server: TestServer;
  let page: { server: Server; port: number };

  async function postOf(ownerId: string): Promise<string> {
    const postId = `pkg-${Math.random().toString(36).slice(2, 10)}`;
    const put = await call(server.url, 'PUT', `/api/internal/posts/${postId}`, { token: TEST_INTERNAL_TOKEN, json: { ownerId, title: 'Tent' } });
    expect(put.status).toBe(200);
    return postId;
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'sdk-package-'));
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: sdkDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    const tarball = path.join(work, packed[0].filename as string);
    consumer = path.join(work, 'consumer');
    execFileSync('mkdir', ['-p', consumer]);
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'marketplace-app', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: consumer, stdio: 'pipe' });
    // The marketplace page: its own origin, serving its HTML and the installed package's files.
    const installed = path.join(consumer, 'node_modules/@rental-chat/sdk');
    const httpServer = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/sdk/')) {
        const file = path.join(installed, path.normalize(url.slice('/sdk/'.length)));
        if (!file.startsWith(installed) || !existsSync(file)) return void res.writeHead(404).end();
        res.setHeader('content-type', 'text/javascript; charset=utf-8');
        return void res.end(readFileSync(file));
      }
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><title>marketplace</title><script type="module">
        import { ChatClient } from '/sdk/dist/index.js';
        window.chatOnce = async (baseUrl, token, postId, body) => {
          const chat = new ChatClient({ baseUrl, getToken: async () => token });
          chat.connect();
          const { room } = await chat.openRoom(postId);
          const outcome = await new Promise((resolve) => {
            chat.on('outbox', (o) => { if (o.status !== 'pending') resolve(o); });
            chat.send(room.roomId, body);
          });
          chat.close();
          return { roomId: room.roomId, status: outcome.status, seq: outcome.message?.seq ?? null };
        };
        window.sdkReady = true;
      </script>`);
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    page = { server: httpServer, port: (httpServer.address() as AddressInfo).port };
    server = await startTestServer('postgres', { env: { ALLOWED_ORIGINS: `http://localhost:${page.port}` } });
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.drop();
    page?.server.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('packs ES modules with type declarations and nothing of the service', () => {
    const files = execFileSync('tar', ['-tzf', execFileSync('ls', [work], { encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.tgz')).map((f) => path.join(work, f))[0] as string], { encoding: 'utf8' });
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/dist/client.js');
    expect(files).not.toMatch(/package\/(?:src\/)?(?:infrastructure|interfaces|domain)\//);
    const manifest = JSON.parse(readFileSync(path.join(consumer, 'node_modules/@rental-chat/sdk/package.json'), 'utf8'));
    expect(manifest).toMatchObject({ type: 'module', exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } } });
    expect(manifest.dependencies ?? {}).toEqual({});
  });

  it('runs from Node: HTTP and the WebSocket (ws passed in), a message sent and acknowledged', async () => {
    const postId = await postOf('pkg-lena');
    const token = tokenFor('pkg-minho', { claims: { name: 'Minho' } });
    const ws = pathToFileURL(path.join(root, 'node_modules/ws/wrapper.mjs')).href;
    writeFileSync(
      path.join(consumer, 'node-use.mjs'),
      `import { ChatClient, tokenSubject } from '@rental-chat/sdk';
       import WebSocket from '${ws}';
       const [baseUrl, token, postId] = process.argv.slice(2);
       const chat = new ChatClient({ baseUrl, getToken: async () => token, WebSocket });
       chat.connect();
       const { room } = await chat.openRoom(postId);
       const outcome = await new Promise((resolve) => {
         chat.on('outbox', (o) => { if (o.status !== 'pending') resolve(o); });
         chat.send(room.roomId, 'hello from node');
       });
       chat.close();
       console.log(JSON.stringify({ user: tokenSubject(token), status: outcome.status, seq: outcome.message?.seq ?? null }));`,
    );
    // Not execFileSync: the server runs in this process, and must answer meanwhile.
    const { stdout: output } = await run(process.execPath, ['node-use.mjs', server.url, token, postId], { cwd: consumer, encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(output.trim().split('\n').at(-1) as string)).toEqual({ user: 'pkg-minho', status: 'sent', seq: 1 });
  });

  it('type-checks in a TypeScript project, resolved as Node does (NodeNext) and as a bundler does', async () => {
    writeFileSync(
      path.join(consumer, 'use.ts'),
      `import { ChatClient, ChatApiError, type Message, type Room } from '@rental-chat/sdk';
       export function nameOf(room: Room, userId: string): string { return room.participants[userId]?.name ?? userId; }
       export function blocked(room: Room): boolean { return room.blockedMe || room.blockedByMe; }
       export const body = (m: Message): string => m.body;
       export const client = new ChatClient({ getToken: async () => 'token' });
       export const isApiError = (e: unknown): boolean => e instanceof ChatApiError;
       // @ts-expect-error: the declarations are strict, an unknown field is an error
       export const wrong = (room: Room) => room.noSuchField;`,
    );
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    for (const [module, moduleResolution] of [['NodeNext', 'NodeNext'], ['ESNext', 'Bundler']]) {
      const compilerOptions = { module, moduleResolution, noEmit: true, strict: true, types: [], lib: ['ES2023', 'DOM'], target: 'ES2022' };
      writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['use.ts'] }));
      // Not execFileSync: a server blocked for the ~10 s tsc takes closes its idle keep-alive
      // sockets late, just as the next test reuses one (ECONNRESET on its first request).
      await expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, encoding: 'utf8' })).resolves.toBeDefined();
    }
  });

  itInChromium('sdk package e2e, the Chromium case')('is used by a marketplace page on another origin in Chromium: native ES modules, CORS and the WebSocket', async () => {
    const postId = await postOf('pkg-lena');
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://localhost:${page.port}/`);
      await tab.waitForFunction('window.sdkReady === true');
      const result = await tab.evaluate(
        ([baseUrl, token, post]) => (window as unknown as { chatOnce(...a: string[]): Promise<unknown> }).chatOnce(baseUrl as string, token as string, post as string, 'hello from the marketplace'),
        [server.url, tokenFor('pkg-bora'), postId],
      );
      expect(result).toMatchObject({ status: 'sent', seq: 1 });
    } finally {
      await browser.close();
    }
  });
});

declare const window: unknown;
