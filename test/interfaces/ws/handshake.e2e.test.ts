import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import WebSocket from 'ws';
import jwt from 'jsonwebtoken';
import { TEST_JWT_SECRET, tokenFor } from '../../support/tokens';
import { unique } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { connect, TestClient, wsUrl } from '../../support/ws';

/** A bare upgrade request, to see exactly what the server answers before any socket opens. */
function rawUpgrade(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({
      hostname,
      port,
      path,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a `ws` client and reports the handshake's answered subprotocol header as sent on the wire. */
async function openWith(baseUrl: string, protocols: string | string[] | undefined, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(wsUrl(baseUrl), protocols, options);
  const answered = new Promise<string | undefined>((resolve) => ws.once('upgrade', (res) => resolve(res.headers['sec-websocket-protocol'] as string | undefined)));
  const client = new TestClient(ws);
  await client.opened;
  return { client, answered: await answered };
}

describe('WebSocket handshake on /chat', () => {
  let server: TestServer;
  let guarded: TestServer;

  beforeAll(async () => {
    server = await startTestServer('postgres');
    guarded = await startTestServer('postgres', { env: { ALLOWED_ORIGINS: 'https://app.example.com,https://admin.example.com' } });
  });
  afterAll(async () => {
    for (const s of [server, guarded]) {
      await s.close();
      await s.database.drop();
    }
  });

  it('survives clients that reset the connection while being refused, and closes refused sockets itself', async () => {
    const { port } = new URL(server.url);
    const refusedOnce = (reset: boolean) =>
      new Promise<{ status: string; closedByServer: boolean }>((resolve, reject) => {
        const socket: Socket = tcpConnect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true }, () => {
          socket.write(
            'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
              'Sec-WebSocket-Protocol: chat.v1, bad.token\r\n\r\n',
          );
        });
        let status = '';
        // A socket the server has fully closed answers our writes with a reset.
        socket.on('error', () => resolve({ status, closedByServer: true }));
        socket.on('end', () => {
          if (reset) return;
          const poke = (): void => void (socket.destroyed || socket.write('x'));
          setTimeout(poke, 100).unref();
          setTimeout(poke, 400).unref();
          setTimeout(poke, 1000).unref();
        });
        socket.on('data', (chunk: Buffer) => {
          status ||= chunk.toString().split('\r\n')[0] ?? '';
          if (reset) {
            socket.resetAndDestroy();
            resolve({ status, closedByServer: false });
          }
        });
        setTimeout(() => reject(new Error('the server left a refused socket open')), 8000).unref();
      });
    for (let i = 0; i < 20; i += 1) expect((await refusedOnce(true)).status).toBe('HTTP/1.1 401 Unauthorized');
    expect(await refusedOnce(false)).toEqual({ status: 'HTTP/1.1 401 Unauthorized', closedByServer: true });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('selects chat.v1 for a browser offering ["chat.v1", token] and never echoes the token', async () => {
    const token = tokenFor(unique('user'));
    const { client, answered } = await openWith(server.url, ['chat.v1', token]);
    expect(answered).toBe('chat.v1');
    expect(client.ws.protocol).toBe('chat.v1');
    client.send({ type: 'ping' });
    await client.nextOf('pong');
    client.close();
  });

  it('selects chat.v1 even when the token is offered first (ws would pick the first by default)', async () => {
    const token = tokenFor(unique('user'));
    const { client, answered } = await openWith(server.url, [token, 'chat.v1']);
    expect(answered).toBe('chat.v1');
    const raw = await rawUpgrade(server.url, '/chat', { 'Sec-WebSocket-Protocol': `${token}, chat.v1` });
    expect(raw.status).toBe(101);
    expect(raw.headers['sec-websocket-protocol']).toBe('chat.v1');
    expect(JSON.stringify(raw.headers)).not.toContain(token);
    client.close();
  });

  it('accepts a token offered alone, answering with it so browsers and ws do not fail the handshake', async () => {
    const token = tokenFor(unique('user'));
    const { client, answered } = await openWith(server.url, token);
    // The only offered protocol is the token: a client that offered protocols fails unless one is selected.
    expect(answered).toBe(token);
    client.send({ type: 'ping' });
    await client.nextOf('pong');
    client.close();
  });

  it('accepts Authorization: Bearer from a non-browser client, with no subprotocol', async () => {
    const { client, answered } = await openWith(server.url, undefined, { headers: { Authorization: `Bearer ${tokenFor(unique('user'))}` } });
    expect(answered).toBeUndefined();
    client.send({ type: 'ping' });
    await client.nextOf('pong');
    client.close();
  });

  it.each([
    ['no token at all', {}],
    ['only chat.v1', { 'Sec-WebSocket-Protocol': 'chat.v1' }],
    ['a token signed with another secret', { 'Sec-WebSocket-Protocol': `chat.v1, ${tokenFor('u', { secret: 'another-secret-another-secret-another!' })}` }],
    ['an expired token', { 'Sec-WebSocket-Protocol': `chat.v1, ${tokenFor('u', { expiresInSeconds: -60 })}` }],
    ['a malformed token', { 'Sec-WebSocket-Protocol': 'chat.v1, not-a-jwt' }],
    ['two tokens', { 'Sec-WebSocket-Protocol': `chat.v1, ${tokenFor('u')}, ${tokenFor('v')}` }],
    ['a bad Authorization header', { Authorization: 'Basic dXNlcjpwYXNz' }],
    ['a Bearer header without a token', { Authorization: 'Bearer ', 'Sec-WebSocket-Protocol': `chat.v1, ${tokenFor('u')}` }],
    ['a token whose exp is past what a date can hold', { 'Sec-WebSocket-Protocol': `chat.v1, ${jwt.sign({ sub: 'u', exp: 1e20 }, TEST_JWT_SECRET, { algorithm: 'HS256' })}` }],
  ])('refuses %s with 401 and the contract error body, before any socket opens', async (_name, headers) => {
    const raw = await rawUpgrade(server.url, '/chat', headers as Record<string, string>);
    expect(raw.status).toBe(401);
    expect(JSON.parse(raw.body)).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(raw.headers['www-authenticate']).toBe('Bearer');
  });

  it('ignores a non-Bearer Authorization header a browser adds, and takes the token from the subprotocol', async () => {
    const token = tokenFor(unique('user'));
    const { client, answered } = await openWith(server.url, ['chat.v1', token], { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
    expect(answered).toBe('chat.v1');
    client.send({ type: 'ping' });
    await client.nextOf('pong');
    client.close();
  });

  it('a ws client sees the 401 as a failed handshake', async () => {
    const ws = new WebSocket(wsUrl(server.url), ['chat.v1']);
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
    ws.terminate();
  });

  it('refuses an Origin outside ALLOWED_ORIGINS with 403', async () => {
    const token = tokenFor(unique('user'));
    const raw = await rawUpgrade(guarded.url, '/chat', { 'Sec-WebSocket-Protocol': `chat.v1, ${token}`, Origin: 'https://evil.example.com' });
    expect(raw.status).toBe(403);
    expect(JSON.parse(raw.body)).toEqual({ error: { code: 'forbidden', message: expect.stringContaining('evil.example.com') } });
  });

  it('accepts an allowed Origin, and a client without Origin (not a browser)', async () => {
    const token = tokenFor(unique('user'));
    const allowed = await openWith(guarded.url, ['chat.v1', token], { origin: 'https://admin.example.com' });
    const noOrigin = await openWith(guarded.url, ['chat.v1', token]);
    for (const { client } of [allowed, noOrigin]) {
      client.send({ type: 'ping' });
      await client.nextOf('pong');
      client.close();
    }
  });

  it('checks the token before the Origin: no token from a foreign Origin is 401', async () => {
    const raw = await rawUpgrade(guarded.url, '/chat', { Origin: 'https://evil.example.com' });
    expect(raw.status).toBe(401);
  });

  it('answers 404 on any other path', async () => {
    const token = tokenFor(unique('user'));
    for (const path of ['/', '/chat/x', '/api/rooms', '/chatty']) {
      const raw = await rawUpgrade(server.url, path, { 'Sec-WebSocket-Protocol': `chat.v1, ${token}` });
      expect(raw.status).toBe(404);
      expect(JSON.parse(raw.body).error.code).toBe('not_found');
    }
    const withQuery = await rawUpgrade(server.url, '/chat?v=1', { 'Sec-WebSocket-Protocol': `chat.v1, ${token}` });
    expect(withQuery.status).toBe(101);
  });

  it('keeps serving after refused handshakes', async () => {
    const client = await connect(server.url, unique('user'));
    client.send({ type: 'ping' });
    await client.nextOf('pong');
    client.close();
  });
});
