import { addressRefusal, DEFAULT_PUSH_HOSTS, EndpointRefused, endpointRefusal, failureKind, urlRefusal, type PushEndpointPolicy } from '../../../src/infrastructure/notifications/pushEndpointPolicy';

const production: PushEndpointPolicy = { allowedHosts: DEFAULT_PUSH_HOSTS, allowLoopback: false };
const development: PushEndpointPolicy = { ...production, allowLoopback: true };
const refusalOf = (url: string, policy = production) => urlRefusal(new URL(url), policy);
/** A resolver that answers from a table, as DNS would. */
const resolving = (table: Record<string, string[]>) => async (host: string) => {
  const addresses = table[host];
  if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('the push endpoint rules', () => {
  it("accepts the browsers' push services on https", () => {
    for (const url of [
      'https://fcm.googleapis.com/fcm/send/abc',
      'https://updates.push.services.mozilla.com/wpush/v2/abc',
      'https://web.push.apple.com/QGx',
      'https://wns2-par02p.notify.windows.com/w/?token=abc',
    ]) {
      expect(refusalOf(url)).toBeNull();
    }
  });

  it('refuses a host that is not a known push service, and a look-alike of one', () => {
    for (const url of ['https://push.example.com/abc', 'https://fcm.googleapis.com.evil.example/x', 'https://evilnotify.windows.com/x', 'https://notify.windows.com.attacker.example/x']) {
      expect(refusalOf(url)).toMatch(/must be on a push service this server sends to/);
    }
  });

  it('refuses plain http, another port, and credentials in the URL', () => {
    expect(refusalOf('http://fcm.googleapis.com/fcm/send/abc')).toBe('must be an https:// URL');
    expect(refusalOf('https://fcm.googleapis.com:8443/fcm/send/abc')).toBe('must use the standard https port (443)');
    expect(refusalOf('https://user:pw@fcm.googleapis.com/fcm/send/abc')).toBe('must not carry credentials (user:password@)');
    expect(refusalOf('https://user@fcm.googleapis.com/fcm/send/abc')).toBe('must not carry credentials (user:password@)');
  });

  it('refuses every address literal push may not reach, in each spelling the URL parser accepts', () => {
    const cases: Array<[string, RegExp]> = [
      ['https://127.0.0.1/x', /loopback/],
      ['https://2130706433/x', /loopback/], // decimal
      ['https://0x7f000001/x', /loopback/], // hex
      ['https://0177.0.0.1/x', /loopback/], // octal
      ['https://127.1/x', /loopback/], // short form
      ['https://[::1]/x', /loopback/],
      ['https://[::ffff:127.0.0.1]/x', /ipv4Mapped/],
      ['https://[::ffff:7f00:1]/x', /ipv4Mapped/],
      ['https://10.1.2.3/x', /private/],
      ['https://172.16.0.1/x', /private/],
      ['https://192.168.1.1/x', /private/],
      ['https://169.254.169.254/latest/meta-data', /linkLocal/],
      ['https://[fe80::1]/x', /linkLocal/],
      ['https://[fd00::1]/x', /uniqueLocal/],
      ['https://224.0.0.1/x', /multicast/],
      ['https://[ff02::1]/x', /multicast/],
      ['https://0.0.0.0/x', /unspecified/],
      ['https://[::]/x', /unspecified/],
      ['https://100.64.0.1/x', /carrierGradeNat/],
    ];
    for (const [url, range] of cases) {
      expect({ url, refusal: refusalOf(url) }).toEqual({ url, refusal: expect.stringMatching(range) });
      // Development's loopback allowance covers the loopback only.
      if (!/loopback/.test(range.source)) expect({ url, refusal: refusalOf(url, development) }).toEqual({ url, refusal: expect.stringMatching(range) });
    }
  });

  it('refuses a public address literal too: push goes to named push services', () => {
    expect(refusalOf('https://8.8.8.8/x')).toMatch(/must be on a push service/);
  });

  it('lets development reach push services on the loopback, on any port and over http', () => {
    for (const url of ['http://127.0.0.1:4000/push/1', 'https://[::1]:4000/x', 'http://localhost:8080/x', 'https://127.0.0.2/x']) {
      expect(refusalOf(url, development)).toBeNull();
      expect(refusalOf(url)).not.toBeNull();
    }
  });

  it('checks every address a name resolves to', async () => {
    const policy: PushEndpointPolicy = { allowedHosts: ['push.example', '*.push.example'], allowLoopback: false };
    const dns = resolving({ 'push.example': ['142.250.74.42'], 'a.push.example': ['142.250.74.43', '10.0.0.5'], 'b.push.example': ['::ffff:127.0.0.1'], 'c.push.example': ['fe80::1'] });
    expect(await endpointRefusal('https://push.example/x', policy, dns)).toBeNull();
    expect(await endpointRefusal('https://a.push.example/x', policy, dns)).toMatch(/resolves to a private address/);
    expect(await endpointRefusal('https://b.push.example/x', policy, dns)).toMatch(/resolves to a ipv4Mapped address/);
    expect(await endpointRefusal('https://c.push.example/x', policy, dns)).toMatch(/resolves to a linkLocal address/);
    expect(await endpointRefusal('https://d.push.example/x', policy, dns)).toBe('has a host name that does not resolve');
  });

  it('names the kind of address, never more', () => {
    expect(addressRefusal('10.0.0.1', production)).toBe('points at a private address, which push may not reach');
    expect(addressRefusal('142.250.74.42', production)).toBeNull();
    expect(addressRefusal('203.0.113.1', production)).toMatch(/reserved/);
  });

  it("records a failure's kind, as fetch (webhooks) and node:https (push) report it, never the peer's words", () => {
    const fetchFailed = (code: string) => new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code} 10.0.0.7:8443`), { code }) });
    expect(failureKind(fetchFailed('ECONNREFUSED'), false)).toBe('connection refused');
    expect(failureKind(fetchFailed('ECONNRESET'), false)).toBe('connection reset');
    expect(failureKind(fetchFailed('DEPTH_ZERO_SELF_SIGNED_CERT'), false)).toBe('tls error');
    expect(failureKind(fetchFailed('ERR_TLS_CERT_ALTNAME_INVALID'), false)).toBe('tls error');
    expect(failureKind(fetchFailed('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), false)).toBe('tls error');
    expect(failureKind(fetchFailed('ENOTFOUND'), false)).toBe('dns error');
    expect(failureKind(fetchFailed('EHOSTUNREACH'), false)).toBe('unreachable');
    expect(failureKind(new Error('something the peer said'), false)).toBe('network error');
    expect(failureKind(new Error('aborted'), true)).toBe('timeout');
    expect(failureKind(new EndpointRefused('points at a private address, which push may not reach'), false)).toBe('refused: the endpoint points at a private address, which push may not reach');
  });
});
