import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { call } from '../../support/http';
import { startTestServer, type TestServer } from '../../support/server';
import { closedAfterEach, connect } from '../../support/ws';

/**
 * Keys rotate without downtime, over the wire: a server configured with two secrets
 * (newest first) takes tokens of either, and a server reading an identity provider's
 * JWKS (a JWKS server of our own on the loopback) takes tokens of every key it
 * publishes, over HTTP and in the WebSocket handshake.
 */
describe('key rotation', () => {
  const opened = closedAfterEach();

  describe('JWT_SECRET with the new and the old secret', () => {
    let server: TestServer;
    const newSecret = 'the-new-secret-of-the-rotation-0123456789';
    const oldSecret = 'the-old-secret-of-the-rotation-0123456789';
    beforeAll(async () => {
      server = await startTestServer('postgres', { env: { JWT_SECRET: `${newSecret},${oldSecret}` } });
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
    });

    it('accepts tokens signed with either, and no other', async () => {
      const token = (secret: string) => jwt.sign({ sub: 'rotating-user' }, secret, { algorithm: 'HS256', expiresIn: 600 });
      expect((await call(server.url, 'GET', '/api/rooms', { token: token(newSecret) })).status).toBe(200);
      expect((await call(server.url, 'GET', '/api/rooms', { token: token(oldSecret) })).status).toBe(200);
      expect((await call(server.url, 'GET', '/api/rooms', { token: token('some-other-secret-nobody-configured-0123') })).status).toBe(401);
      opened(await connect(server.url, 'rotating-user', { token: token(oldSecret) }));
    });
  });

  describe('JWT_JWKS_URL', () => {
    let server: TestServer;
    let jwks: Server;
    let fetches = 0;
    const first = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const second = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = (key: KeyObject, kid: string, alg: string) => ({ ...key.export({ format: 'jwk' }), kid, alg, use: 'sig' });
    const published = [jwk(first.publicKey, 'k1', 'ES256')];

    beforeAll(async () => {
      jwks = createServer((_req, res) => {
        fetches += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: published }));
      });
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', () => resolve()));
      const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
      server = await startTestServer('postgres', { env: { JWT_SECRET: '', JWT_JWKS_URL: url, JWT_ISSUER: 'https://id.example.com' } });
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
      await new Promise<void>((resolve) => jwks.close(() => resolve()));
    });

    const token = (key: KeyObject, kid: string, algorithm: jwt.Algorithm, issuer = 'https://id.example.com') =>
      jwt.sign({ sub: 'idp-user' }, key, { algorithm, keyid: kid, issuer, expiresIn: 600 });

    it('takes tokens of the published keys over HTTP and in the handshake, fetching the key set once', async () => {
      expect((await call(server.url, 'GET', '/api/rooms', { token: token(first.privateKey, 'k1', 'ES256') })).status).toBe(200);
      opened(await connect(server.url, 'idp-user', { token: token(first.privateKey, 'k1', 'ES256') }));
      expect((await call(server.url, 'GET', '/api/rooms', { token: token(first.privateKey, 'k1', 'ES256') })).status).toBe(200);
      expect(fetches).toBe(1);
      // The wrong issuer, or a key the provider never published: 401.
      expect((await call(server.url, 'GET', '/api/rooms', { token: token(first.privateKey, 'k1', 'ES256', 'https://evil.example') })).status).toBe(401);
      expect((await call(server.url, 'GET', '/api/rooms', { token: token(second.privateKey, 'k1', 'RS256') })).status).toBe(401);
    });
  });

  describe('JWT_JWKS_URL out of reach', () => {
    let server: TestServer;
    beforeAll(async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      server = await startTestServer('postgres', { env: { JWT_SECRET: '', JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` } });
    });
    afterAll(async () => {
      await server?.close();
      await server?.database.drop();
    });

    it('answers 503 unavailable with Retry-After, not 401: the token may be fine', async () => {
      const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const res = await call(server.url, 'GET', '/api/rooms', { token: jwt.sign({ sub: 'x' }, key.privateKey, { algorithm: 'ES256', keyid: 'k', expiresIn: 600 }) });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
      expect(res.headers.get('retry-after')).not.toBeNull();
    });
  });
});
