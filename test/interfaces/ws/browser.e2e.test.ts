/**
 * What a real browser does with the subprotocol answers (docs/websocket.md, "Which
 * subprotocol is answered"). Runs where Debian's Chromium is installed
 * (`apt-get install chromium`); skipped with a line why elsewhere.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { startTestServer, type TestServer } from '../../support/server';
import { wsUrl } from '../../support/ws';
import { tokenFor } from '../../support/tokens';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const withBrowser = existsSync(CHROMIUM) ? it : it.skip;
if (!existsSync(CHROMIUM)) process.stdout.write(`[browser e2e] skipped: no Chromium at ${CHROMIUM}\n`);

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

interface Outcome {
  name: string;
  outcome: 'open' | 'error' | 'timeout';
  protocol?: string;
}

/** Loads a page in headless Chromium that opens each WebSocket and posts back what happened. */
async function inBrowser(attempts: Array<{ name: string; url: string; protocols: string | string[] }>): Promise<Outcome[]> {
  const script = `
    const attempts = ${JSON.stringify(attempts)};
    const tryOne = (a) => new Promise((resolve) => {
      const ws = new WebSocket(a.url, a.protocols);
      const timer = setTimeout(() => resolve({ name: a.name, outcome: 'timeout' }), 5000);
      ws.onopen = () => { clearTimeout(timer); resolve({ name: a.name, outcome: 'open', protocol: ws.protocol }); ws.close(); };
      ws.onerror = () => { clearTimeout(timer); resolve({ name: a.name, outcome: 'error' }); };
    });
    (async () => {
      const out = [];
      for (const a of attempts) out.push(await tryOne(a));
      await fetch('/result', { method: 'POST', body: JSON.stringify(out) });
    })();`;
  let resolveResults: (outcomes: Outcome[]) => void = () => undefined;
  const results = new Promise<Outcome[]>((resolve) => (resolveResults = resolve));
  const page = createServer((req, res) => {
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        res.end();
        resolveResults(JSON.parse(body) as Outcome[]);
      });
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><script>${script}</script>`);
  });
  const port = await listen(page);
  let timer: NodeJS.Timeout | undefined;
  const profile = mkdtempSync(path.join(tmpdir(), 'chat-chromium-'));
  const browser = spawn(
    CHROMIUM,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, `http://127.0.0.1:${port}/`],
    // Its own process group: /usr/bin/chromium is a wrapper script, and the browser has helpers.
    { stdio: 'ignore', detached: true },
  );
  browser.unref();
  try {
    return await Promise.race([
      results,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the browser reported nothing within 45 s')), 45_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    const exited = new Promise((resolve) => (browser.exitCode !== null ? resolve(null) : browser.once('exit', resolve)));
    try {
      process.kill(-(browser.pid as number), 'SIGKILL');
    } catch {
      browser.kill('SIGKILL');
    }
    await exited;
    page.closeAllConnections();
    page.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // A helper process may still hold a file for a moment; the temp dir is left behind then.
    }
  }
}

describe('WebSocket handshake in a real browser', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('postgres');
  });
  afterAll(async () => {
    await server.close();
    await server.database.drop();
  });

  withBrowser('connects with ["chat.v1", token] in any order and with a lone token; answering none would fail it', async () => {
    // A bare server that answers no subprotocol: what "select none" would do to a lone token.
    const bare = createServer();
    const wss = new WebSocketServer({ server: bare, handleProtocols: () => false });
    const barePort = await listen(bare);
    const token = tokenFor('browser-user');
    const url = wsUrl(server.url);
    try {
      const outcomes = await inBrowser([
        { name: 'chat.v1 first', url, protocols: ['chat.v1', token] },
        { name: 'token first', url, protocols: [token, 'chat.v1'] },
        { name: 'token alone', url, protocols: token },
        { name: 'token alone, nothing answered', url: `ws://127.0.0.1:${barePort}/`, protocols: token },
        { name: 'no token', url, protocols: ['chat.v1'] },
      ]);
      expect(outcomes).toEqual([
        { name: 'chat.v1 first', outcome: 'open', protocol: 'chat.v1' },
        { name: 'token first', outcome: 'open', protocol: 'chat.v1' },
        { name: 'token alone', outcome: 'open', protocol: token },
        { name: 'token alone, nothing answered', outcome: 'error' },
        { name: 'no token', outcome: 'error' },
      ]);
    } finally {
      for (const client of wss.clients) client.terminate();
      wss.close();
      bare.closeAllConnections();
      bare.close();
    }
  }, 60_000);
});
