import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { call, openRoom, unique } from '../support/http';
import { RecordingLogger } from '../support/logger';
import { startTestServer, type TestServer } from '../support/server';
import { closedAfterEach, connect, sendAndAck, type TestClient, wsUrl } from '../support/ws';
import { TEST_JWT_SECRET } from '../support/tokens';

const NUL = '\u0000';
const LONE_SURROGATE = 'abc\ud800';

/** The status and body a refused handshake answers with. */
function handshakeRefusal(baseUrl: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(baseUrl), ['chat.v1', token]);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('open', () => {
      ws.close();
      reject(new Error('the handshake was accepted'));
    });
    ws.on('error', () => undefined);
  });
}

describe('input checks and what refusals disclose', () => {
  let server: TestServer;
  /** Checks iss and aud, whose expected values must not reach a client. */
  let strict: TestServer;
  const logger = new RecordingLogger();
  const track = closedAfterEach();
  const open = async (userId: string): Promise<TestClient> => track(await connect(server.url, userId));

  beforeAll(async () => {
    server = await startTestServer('postgres', { logger });
    strict = await startTestServer('postgres', { env: { JWT_ISSUER: 'https://issuer.example.com', JWT_AUDIENCE: 'chat-api' }, logger });
  });
  afterAll(async () => {
    for (const s of [server, strict]) {
      await s.close();
      await s.database.drop();
    }
  });

  const signed = (payload: object, options: jwt.SignOptions = {}) => jwt.sign(payload, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 600, ...options });
  const strictToken = (payload: object, options: jwt.SignOptions = {}) =>
    signed(payload, { issuer: 'https://issuer.example.com', audience: 'chat-api', ...options });

  describe('WebSocket frames are checked with the HTTP schemas', () => {
    it.each([
      ['typing with a NUL room id', { type: 'typing', roomId: `room${NUL}` }, 'typing', /^roomId: /],
      ['typing with a made-up room id', { type: 'typing', roomId: 'x'.repeat(150) }, 'typing', /^roomId: must be a room id/],
      ['read with a made-up room id', { type: 'read', roomId: 'my-room', upToSeq: 1 }, 'read', /^roomId: must be a room id/],
      ['send with a NUL clientMessageId', { type: 'send', roomId: randomUUID(), clientMessageId: `c${NUL}`, body: 'hi' }, null, /^clientMessageId: must be valid Unicode/],
      ['send with a lone surrogate in clientMessageId', { type: 'send', roomId: randomUUID(), clientMessageId: LONE_SURROGATE, body: 'hi' }, null, /^clientMessageId: must be valid Unicode/],
      ['resume with a NUL room id', { type: 'resume', roomId: NUL, afterSeq: 0 }, 'resume', /^roomId: /],
    ])('answers %s with bad_request, logs no error and keeps the socket open', async (_name, frame, ref, message) => {
      const errorsBefore = logger.at('error').length;
      const client = await open(unique('user'));
      client.send(frame);
      const error = await client.nextOf('error');
      expect(error.code).toBe('bad_request');
      expect(error.message).toMatch(message);
      if (ref !== null) expect(error.ref).toBe(ref);
      // Still open: a NUL room id in resume used to close the socket with 1011.
      client.send({ type: 'ping' });
      await client.nextOf('pong');
      expect(logger.at('error').length).toBe(errorsBefore);
    });

    it('still takes a room id in upper case, as HTTP does', async () => {
      const room = await openRoom(server.url, unique('lender'), unique('borrower'));
      const client = await open(room.borrowerId);
      const message = await sendAndAck(client, room.roomId.toUpperCase(), 'hello');
      expect(message.roomId).toBe(room.roomId);
    });
  });

  describe('tokens', () => {
    it('refuses a token whose sub holds NUL with 401 over HTTP and in the handshake, never 500', async () => {
      const token = signed({ sub: `bob${NUL}` });
      const overHttp = await call<{ error: { code: string } }>(server.url, 'GET', '/api/rooms', { token });
      expect(overHttp.status).toBe(401);
      expect(overHttp.body.error.code).toBe('unauthorized');
      expect((await handshakeRefusal(server.url, token)).status).toBe(401);
      const loneSurrogate = await call(server.url, 'GET', '/api/rooms', { token: signed({ sub: LONE_SURROGATE }) });
      expect(loneSurrogate.status).toBe(401);
    });

    it('refuses a token with a crit header, which names extensions the service does not understand', async () => {
      const token = signed({ sub: unique('user') }, { header: { alg: 'HS256', crit: ['exp-ext'] } as jwt.JwtHeader });
      expect((await call(server.url, 'GET', '/api/rooms', { token })).status).toBe(401);
      expect((await handshakeRefusal(server.url, token)).status).toBe(401);
      // The same token without it is fine.
      expect((await call(server.url, 'GET', '/api/rooms', { token: signed({ sub: unique('user') }) })).status).toBe(200);
    });

    it('says the same generic thing over HTTP, the handshake and the auth frame; the reason goes to the debug log only', async () => {
      const wrongIssuer = strictToken({ sub: 'bob' }, { issuer: 'https://elsewhere.example.com' });
      const overHttp = await call<{ error: { message: string } }>(strict.url, 'GET', '/api/rooms', { token: wrongIssuer });
      const handshake = await handshakeRefusal(strict.url, wrongIssuer);
      const client = track(await connect(strict.url, 'bob', { token: strictToken({ sub: 'bob' }) }));
      client.send({ type: 'auth', token: wrongIssuer });
      const frame = await client.nextOf('error');

      const messages = [overHttp.body.error.message, (JSON.parse(handshake.body) as { error: { message: string } }).error.message, frame.message as string];
      expect(new Set(messages)).toEqual(new Set(['the token is not valid']));
      for (const message of messages) expect(message).not.toMatch(/issuer|audience|expected|example\.com/);
      const reasons = logger.at('debug').filter((l) => l.message === 'token refused');
      expect(reasons.map((r) => (r.fields as { via: string }).via)).toEqual(expect.arrayContaining(['http', 'handshake', 'auth frame']));
      expect(JSON.stringify(reasons)).toMatch(/issuer/);

      const expired = strictToken({ sub: 'bob' }, { expiresIn: -60 });
      expect((await call<{ error: { message: string } }>(strict.url, 'GET', '/api/rooms', { token: expired })).body.error.message).toBe('the token has expired');
    });
  });

  describe('security headers', () => {
    it('marks every API answer nosniff and no-store, errors included', async () => {
      for (const [path, token] of [
        ['/api/rooms', signed({ sub: unique('user') })],
        ['/api/rooms', undefined],
        ['/healthz', undefined],
        ['/nowhere', undefined],
      ] as const) {
        const response = await fetch(`${server.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
        expect([path, response.headers.get('x-content-type-options')]).toEqual([path, 'nosniff']);
        expect([path, response.headers.get('cache-control')]).toEqual([path, 'no-store']);
      }
    });
  });
});
