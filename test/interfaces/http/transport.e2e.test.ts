import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions } from 'node:tls';
import { loadConfig } from '../../../src/config';
import { start, type RunningServer } from '../../../src/main';
import { createTestDatabase, type TestDatabase } from '../../support/databases';
import { testEnv } from '../../support/server';
import { spawnServer, stopServer } from '../../support/serverProcess';

/** A self-signed RSA certificate for 127.0.0.1 (RSA, so the old RSA-key-exchange suites could be offered at all). */
function selfSigned(dir: string, name: string): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return { certFile, keyFile };
}

/** A TLS handshake with these client options: the protocol and cipher agreed, and the server's certificate, or the error. */
function handshake(port: number, options: ConnectionOptions): Promise<{ ok: true; protocol: string | null; cipher: string; fingerprint: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const result = { ok: true as const, protocol: socket.getProtocol(), cipher: socket.getCipher().name, fingerprint: socket.getPeerX509Certificate()?.fingerprint256 ?? '' };
      socket.end();
      resolve(result);
    });
    socket.once('error', (error) => resolve({ ok: false, error: error.message }));
  });
}

const haveOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!haveOpenssl) process.stdout.write('[transport.e2e] TLS cases skipped: no openssl binary to make a test certificate\n');

(haveOpenssl ? describe : describe.skip)('TLS as served (TLS_CERT_FILE / TLS_KEY_FILE)', () => {
  let dir: string;
  let database: TestDatabase;
  let server: RunningServer;
  let files: { certFile: string; keyFile: string };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'chat-tls-'));
    files = selfSigned(dir, 'first');
    database = await createTestDatabase('postgres');
    server = await start(loadConfig(testEnv(database, { TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile })));
  });
  afterAll(async () => {
    await server.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves TLS 1.3 and TLS 1.2 with forward-secret AEAD suites', async () => {
    expect(await handshake(server.port, {})).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    expect(await handshake(server.port, { maxVersion: 'TLSv1.2' })).toMatchObject({ ok: true, protocol: 'TLSv1.2', cipher: expect.stringMatching(/^ECDHE-RSA-(AES\d+-GCM|CHACHA20-POLY1305)/) });
    const health = await handshake(server.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    expect(health).toMatchObject({ ok: true, cipher: 'ECDHE-RSA-AES128-GCM-SHA256' });
  });

  it('refuses TLS 1.2 with AES128-SHA (RSA key exchange, no forward secrecy), which Node would accept by default', async () => {
    // The same client against a server on Node's defaults gets AES128-SHA: the refusal below is the service's.
    const key = readFileSync(files.keyFile);
    const cert = readFileSync(files.certFile);
    const plain = createTlsServer({ key, cert }, (socket) => socket.end());
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const control = await handshake((plain.address() as { port: number }).port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' });
    plain.close();
    expect(control).toMatchObject({ ok: true, cipher: 'AES128-SHA' });

    const refused = await handshake(server.port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' });
    expect(refused.ok).toBe(false);
  });

  it('refuses TLS 1.1 and older', async () => {
    const old: ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' };
    // The control: this client does speak TLS 1.1 to a server that allows it.
    const plain = createTlsServer({ key: readFileSync(files.keyFile), cert: readFileSync(files.certFile), minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, (socket) => socket.end());
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const control = await handshake((plain.address() as { port: number }).port, old);
    plain.close();
    expect(control).toMatchObject({ ok: true, protocol: 'TLSv1.1' });

    expect((await handshake(server.port, old)).ok).toBe(false);
  });

  it('serves a renewed certificate to new connections after a reload, without a restart', async () => {
    const before = await handshake(server.port, {});
    const renewed = selfSigned(dir, 'renewed');
    // Renew in place, as certbot or a secret mount does.
    execFileSync('cp', [renewed.certFile, files.certFile]);
    execFileSync('cp', [renewed.keyFile, files.keyFile]);
    expect(server.reloadTls()).toBe(true);
    const after = await handshake(server.port, {});
    const renewedFingerprint = new X509Certificate(readFileSync(renewed.certFile)).fingerprint256;
    expect(before).toMatchObject({ ok: true });
    expect(after).toMatchObject({ ok: true, fingerprint: renewedFingerprint });
    expect((after as { fingerprint: string }).fingerprint).not.toBe((before as { fingerprint: string }).fingerprint);
  });

  it('reloads the certificate on SIGHUP in a server process of its own', async () => {
    const own = selfSigned(dir, 'process');
    const processDatabase = await createTestDatabase('postgres');
    const child = await spawnServer(processDatabase, { TLS_CERT_FILE: own.certFile, TLS_KEY_FILE: own.keyFile });
    try {
      const port = Number(new URL(child.url).port);
      const original = new X509Certificate(readFileSync(own.certFile)).fingerprint256;
      const before = await handshake(port, {});
      const renewed = selfSigned(dir, 'process-renewed');
      execFileSync('cp', [renewed.certFile, own.certFile]);
      execFileSync('cp', [renewed.keyFile, own.keyFile]);
      child.child.kill('SIGHUP');
      const renewedFingerprint = new X509Certificate(readFileSync(renewed.certFile)).fingerprint256;
      let after = await handshake(port, {});
      for (let i = 0; i < 50 && after.ok && after.fingerprint !== renewedFingerprint; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await handshake(port, {});
      }
      expect(before).toMatchObject({ ok: true, fingerprint: original });
      expect(after).toMatchObject({ ok: true, fingerprint: renewedFingerprint });
      expect(child.child.exitCode).toBeNull();
    } finally {
      await stopServer(child);
      await processDatabase.drop();
    }
  });
});

describe('slow requests', () => {
  let database: TestDatabase;
  let server: RunningServer;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    server = await start(loadConfig(testEnv(database)), { http: { headersTimeoutMs: 400, requestTimeoutMs: 1_000, checkIntervalMs: 100 } });
  });
  afterAll(async () => {
    await server.close();
    await database.drop();
  });

  it('answers an upgrade request whose headers never finish with 408 once the headers timeout passes', async () => {
    const socket = tcpConnect(server.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const startedAt = Date.now();
    // A slowloris upgrade: the request line and a few headers, then nothing.
    socket.write('GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const heldMs = Date.now() - startedAt;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(heldMs).toBeLessThan(5_000);
  });
});
