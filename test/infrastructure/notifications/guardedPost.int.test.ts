import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { guardedPost } from '../../../src/infrastructure/notifications/senders';
import { DEFAULT_PUSH_HOSTS, type PushEndpointPolicy, type Resolver } from '../../../src/infrastructure/notifications/pushEndpointPolicy';
import { silentListener, type SilentListener } from '../../support/listeners';
import { HttpReceiver } from '../../support/webhookReceiver';

/**
 * The request to a push endpoint, against listeners of our own on the loopback: the
 * address that was checked is the one connected to, refusals connect nowhere, and the
 * recorded failure says what kind it was and nothing of the peer.
 */
const development: PushEndpointPolicy = { allowedHosts: DEFAULT_PUSH_HOSTS, allowLoopback: true };
const production: PushEndpointPolicy = { ...development, allowLoopback: false };
const body = { headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('x') };
const inTime = () => AbortSignal.timeout(5_000);

/** Answers as DNS would, a different answer per call, and counts the calls. */
function resolverAnswering(...answers: string[][]): Resolver & { calls: number } {
  const resolve = Object.assign(
    async (_host: string) => {
      const addresses = answers[Math.min(resolve.calls, answers.length - 1)] ?? [];
      resolve.calls += 1;
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    { calls: 0 },
  );
  return resolve;
}

describe('a push request to the endpoint a user gave', () => {
  let receiver: HttpReceiver;
  let silent: SilentListener;
  beforeAll(async () => {
    receiver = await HttpReceiver.start();
    silent = await silentListener();
  });
  afterAll(async () => {
    await receiver.close();
    await silent.close();
  });
  const portOf = (url: string) => new URL(url).port;

  it('connects to the address it checked: a name that resolves elsewhere a moment later (DNS rebinding) is not resolved again', async () => {
    // First answer: the loopback (allowed in development); every later answer: the cloud metadata address.
    const dns = resolverAnswering(['127.0.0.1'], ['169.254.169.254']);
    const post = guardedPost(development, dns);
    const result = await post(`http://rebind.localhost:${portOf(receiver.url)}/push/rebind`, body, inTime());
    expect(result).toMatchObject({ status: 200 });
    expect(dns.calls).toBe(1);
    expect(receiver.received.filter((r) => r.path === '/push/rebind')).toHaveLength(1);
  });

  it('connects nowhere when any address of the name is refused', async () => {
    const dns = resolverAnswering([`127.0.0.1`, '10.0.0.7']);
    const result = await guardedPost(development, dns)(`http://mixed.localhost:${silent.port}/x`, body, inTime());
    expect(result).toEqual({ status: null, error: 'refused: the endpoint resolves to a private address, which push may not reach', retryAfter: null, refused: true });
    expect(silent.connections()).toBe(0);
  });

  it('in production connects nowhere for a loopback endpoint, literal or named, whatever the allowed hosts say', async () => {
    const before = silent.connections();
    const allowingLocalhost: PushEndpointPolicy = { allowedHosts: ['localhost', 'push.test'], allowLoopback: false };
    const cases: Array<[string, PushEndpointPolicy, Resolver]> = [
      [`https://127.0.0.1:${silent.port}/x`, production, resolverAnswering(['127.0.0.1'])],
      [`https://2130706433/x`, production, resolverAnswering(['127.0.0.1'])],
      ['https://push.test/x', allowingLocalhost, resolverAnswering(['127.0.0.1'])],
      ['https://push.test/x', allowingLocalhost, resolverAnswering(['::ffff:127.0.0.1'])],
      ['https://localhost/x', allowingLocalhost, resolverAnswering(['::1'])],
    ];
    for (const [url, policy, dns] of cases) {
      const result = await guardedPost(policy, dns)(url, body, inTime());
      expect({ url, refused: result.refused, error: result.error }).toEqual({ url, refused: true, error: expect.stringMatching(/^refused: the endpoint /) });
    }
    expect(silent.connections()).toBe(before);
  });

  it('does not follow a redirect', async () => {
    receiver.answer = (r) => (r.path === '/push/moved' ? { status: 307, headers: { location: `${receiver.url}/push/elsewhere` } } : { status: 201 });
    const result = await guardedPost(development)(`${receiver.url}/push/moved`, body, inTime());
    expect(result.status).toBe(307);
    expect(receiver.received.filter((r) => r.path === '/push/elsewhere')).toHaveLength(0);
    receiver.answer = () => ({ status: 200 });
  });

  it('records the kind of a failure, never the peer’s address or words', async () => {
    const post = guardedPost(development);
    // Nothing listens on a port just closed.
    const closed = await silentListener();
    await closed.close();
    expect((await post(`http://127.0.0.1:${closed.port}/x`, body, inTime())).error).toBe('connection refused');
    expect((await post(`http://127.0.0.1:${silent.port}/x`, body, AbortSignal.timeout(300))).error).toBe('timeout');
    receiver.answer = () => ({ status: 500 });
    expect(await post(`${receiver.url}/push/failing`, body, inTime())).toMatchObject({ status: 500, error: 'http 500' });
    receiver.answer = () => ({ status: 503, headers: { 'retry-after': '0' } });
    expect(await post(`${receiver.url}/push/busy`, body, inTime())).toMatchObject({ status: 503, error: 'http 503', retryAfter: '0' });
    receiver.answer = () => ({ status: 200 });
  });

  it('records a certificate it cannot trust as a tls error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'push-tls-'));
    try {
      const keyFile = path.join(dir, 'key.pem');
      const certFile = path.join(dir, 'cert.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=internal-admin.corp', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
      const server = createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (_req, res) => res.end('secret admin page'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      const result = await guardedPost(development)(`https://127.0.0.1:${(server.address() as AddressInfo).port}/x`, body, inTime());
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect(result).toEqual({ status: null, error: 'tls error', retryAfter: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
