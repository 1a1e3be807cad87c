/**
 * What a real browser does with the subprotocol answers (docs/websocket.md, "Which
 * subprotocol is answered"). Runs where Debian's Chromium is installed
 * (`apt-get install chromium`); skipped with a line why elsewhere.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { itInChromium, launchChromium } from '../../support/browser';
import { startTestServer, type TestServer } from '../../support/server';
import { wsUrl } from '../../support/ws';
import { tokenFor } from '../../support/tokens';

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

interface Outcome {
  name: string;
  outcome: 'open' | 'error' | 'timeout';
  protocol?: string;
}

/**
 * Opens each WebSocket, one after the other, from a blank page in headless Chromium, and
 * says what happened. The page is served on the loopback by a server of its own: Chromium
 * blocks a page of a public origin from opening a loopback socket (local network access),
 * and the chat server's own pages carry a CSP that would.
 */
async function inBrowser(attempts: Array<{ name: string; url: string; protocols: string | string[] }>): Promise<Outcome[]> {
  const blank = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>page</title>'));
  const port = await listen(blank);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    return await page.evaluate(async (list) => {
      const tryOne = (a: (typeof list)[number]) =>
        new Promise<Outcome>((resolve) => {
          const ws = new WebSocket(a.url, a.protocols);
          const timer = setTimeout(() => resolve({ name: a.name, outcome: 'timeout' }), 5000);
          ws.onopen = () => {
            clearTimeout(timer);
            resolve({ name: a.name, outcome: 'open', protocol: ws.protocol });
            ws.close();
          };
          ws.onerror = () => {
            clearTimeout(timer);
            resolve({ name: a.name, outcome: 'error' });
          };
        });
      const out: Outcome[] = [];
      for (const a of list) out.push(await tryOne(a));
      return out;
    }, attempts);
  } finally {
    await browser.close();
    blank.closeAllConnections();
    blank.close();
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

  itInChromium('browser e2e')('connects with ["chat.v1", token] in any order and with a lone token; answering none would fail it', async () => {
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
