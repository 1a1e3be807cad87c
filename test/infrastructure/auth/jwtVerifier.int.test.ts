import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { InvalidTokenError } from '../../../src/application/ports/auth';
import { UnavailableError } from '../../../src/application/unavailable';
import { loadConfig } from '../../../src/config';
import { JwtVerifier, type JwksTuning } from '../../../src/infrastructure/auth/jwtVerifier';

const secretA = 'a-new-secret-that-is-long-enough-for-hs256';
const secretB = 'the-old-secret-that-is-long-enough-for-hs256';
const now = () => Math.floor(Date.now() / 1000);
const hs = (secret: string, claims: object = { exp: now() + 600 }) => jwt.sign({ sub: 'alice', ...claims }, secret, { algorithm: 'HS256' });
const pemOf = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;

describe('JWT verification with several keys at once', () => {
  it('accepts tokens signed with any secret of JWT_SECRET (newest first) and refuses others', async () => {
    const verifier = new JwtVerifier(loadConfig({ JWT_SECRET: `${secretA}, ${secretB}` }).jwt);
    expect((await verifier.verify(hs(secretA))).userId).toBe('alice');
    expect((await verifier.verify(hs(secretB))).userId).toBe('alice');
    await expect(verifier.verify(hs('a-third-secret-nobody-configured-here-x'))).rejects.toThrow(InvalidTokenError);
    // Expired is expired whichever key signed it.
    await expect(verifier.verify(hs(secretB, { exp: now() - 3600 }))).rejects.toThrow(/expired/);
    // No exp: refused.
    await expect(verifier.verify(hs(secretA, {}))).rejects.toThrow(InvalidTokenError);
  });

  it('accepts tokens signed by any key of JWT_PUBLIC_KEY, each with its own algorithm, and no algorithm the token picks', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // As an environment variable often carries PEM: newlines written as \n, keys separated by a comma.
    const env = [pemOf(ec.publicKey), pemOf(rsa.publicKey)].map((pem) => pem.replaceAll('\n', '\\n')).join(',');
    const config = loadConfig({ JWT_PUBLIC_KEY: env });
    expect(config.jwt.keys.map((k) => k.algorithm)).toEqual(['ES256', 'RS256']);
    const verifier = new JwtVerifier(config.jwt);
    const sign = (key: KeyObject, algorithm: jwt.Algorithm) => jwt.sign({ sub: 'bob' }, key, { algorithm, expiresIn: 600 });
    expect((await verifier.verify(sign(rsa.privateKey, 'RS256'))).userId).toBe('bob');
    expect((await verifier.verify(sign(ec.privateKey, 'ES256'))).userId).toBe('bob');
    await expect(verifier.verify(sign(other.privateKey, 'RS256'))).rejects.toThrow(InvalidTokenError);
    // An RSA key used with ES256, or the public key's text used as an HS256 secret: refused.
    await expect(verifier.verify(jwt.sign({ sub: 'bob' }, pemOf(rsa.publicKey), { algorithm: 'HS256', expiresIn: 600 }))).rejects.toThrow(InvalidTokenError);
    await expect(verifier.verify(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"bob","exp":9999999999}').toString('base64url')}.`)).rejects.toThrow(InvalidTokenError);
  });

  describe('from a JWKS (JWT_JWKS_URL), against a JWKS server of our own on the loopback', () => {
    let server: Server;
    let url: string;
    let fetches = 0;
    let published: object[] = [];
    const tuning: JwksTuning = { cacheMaxAgeMs: 60_000, cooldownMs: 0, timeoutMs: 2_000 };
    const keyA = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyB = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = (key: KeyObject, kid: string, alg: string) => ({ ...key.export({ format: 'jwk' }), kid, alg, use: 'sig' });
    const signed = (key: KeyObject, kid: string, algorithm: jwt.Algorithm) => jwt.sign({ sub: 'carol', roles: ['auditor'] }, key, { algorithm, keyid: kid, expiresIn: 600 });

    beforeAll(async () => {
      server = createServer((_req, res) => {
        fetches += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: published }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('verifies with the published keys, fetched once and cached, and picks up a new key when a token names it', async () => {
      published = [jwk(keyA.publicKey, 'a', 'ES256')];
      fetches = 0;
      const verifier = new JwtVerifier(loadConfig({ JWT_JWKS_URL: url }).jwt, tuning);
      for (let i = 0; i < 20; i += 1) expect((await verifier.verify(signed(keyA.privateKey, 'a', 'ES256'))).roles).toEqual(['auditor']);
      expect(fetches).toBe(1);

      // The identity provider rotates: B is published beside A, and tokens signed by B arrive.
      published = [jwk(keyB.publicKey, 'b', 'RS256'), jwk(keyA.publicKey, 'a', 'ES256')];
      expect((await verifier.verify(signed(keyB.privateKey, 'b', 'RS256'))).userId).toBe('carol');
      expect(fetches).toBe(2);
      expect((await verifier.verify(signed(keyA.privateKey, 'a', 'ES256'))).userId).toBe('carol');
      expect(fetches).toBe(2);

      // A key nobody published, under a known or an unknown id, and an HS256 token: refused.
      const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      await expect(verifier.verify(signed(stranger.privateKey, 'a', 'ES256'))).rejects.toThrow(InvalidTokenError);
      await expect(verifier.verify(signed(stranger.privateKey, 'zz', 'ES256'))).rejects.toThrow(InvalidTokenError);
      await expect(verifier.verify(jwt.sign({ sub: 'carol' }, 'x'.repeat(40), { algorithm: 'HS256', keyid: 'a', expiresIn: 600 }))).rejects.toThrow(InvalidTokenError);
    });

    it('answers "unavailable" rather than "invalid" while the JWKS cannot be fetched', async () => {
      const verifier = new JwtVerifier(loadConfig({ JWT_JWKS_URL: 'http://127.0.0.1:1/jwks.json' }).jwt, tuning);
      await expect(verifier.verify(signed(keyA.privateKey, 'a', 'ES256'))).rejects.toThrow(UnavailableError);
    });
  });
});
