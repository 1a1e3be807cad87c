import { promises as dns, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Where the service may send a Web Push message. A push endpoint is a URL a user
 * hands in, so every request to one is a request the user chose: without these rules
 * it could reach the service's own network (server-side request forgery). The
 * browsers' push services, by default (web-push's documentation and the vendors'):
 * Chrome/Android (FCM), Firefox (Mozilla autopush), Safari (Apple, which asks servers to
 * allow `*.push.apple.com`) and Edge (Windows Notification Service).
 */
export const DEFAULT_PUSH_HOSTS: readonly string[] = ['fcm.googleapis.com', 'updates.push.services.mozilla.com', '*.push.apple.com', '*.notify.windows.com'];

export interface PushEndpointPolicy {
  /** Host names push may go to: exact (`fcm.googleapis.com`) or every name under a domain (`*.notify.windows.com`). */
  allowedHosts: readonly string[];
  /**
   * Development only: push services on the loopback (any port, http or https), for the
   * demo and local test receivers. Everything else still follows the rules.
   */
  allowLoopback: boolean;
}

/** One resolution of a host name: every address it has. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

/** A push endpoint the policy refuses; `reason` completes "the endpoint …" and names no peer's details beyond the URL's own. */
export class EndpointRefused extends Error {
  constructor(readonly reason: string) {
    super(`the endpoint ${reason}`);
    this.name = 'EndpointRefused';
  }
}

/** The IP literal in a URL's host (`127.0.0.1`, `[::1]`), or null for a name. The URL parser already turned decimal, hex and octal IPv4 forms into dotted quads. */
function ipLiteral(hostname: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) ? ipaddr.parse(bare) : null;
}

/**
 * The address is one push may connect to: public unicast only. Loopback, private,
 * link-local, multicast, unspecified, carrier-grade NAT, reserved ranges, IPv4-mapped
 * and the other IPv6 forms that carry an IPv4 address (NAT64, 6to4, Teredo) are all
 * refused — ipaddr.js names every range other than plain `unicast`.
 */
export function addressRefusal(address: string, policy: PushEndpointPolicy): string | null {
  if (!ipaddr.isValid(address)) return 'resolves to something that is not an IP address';
  const range = ipaddr.parse(address).range();
  if (range === 'unicast') return null;
  if (range === 'loopback' && policy.allowLoopback) return null;
  return `points at a ${range} address, which push may not reach`;
}

function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost');
}

function hostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return allowedHosts.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p;
  });
}

/**
 * The rules a URL must meet before any name is resolved: no credentials; https on its
 * standard port; a host on the allowed list; an IP literal only when it is allowed as
 * an address too (the loopback, in development). Null when it meets them.
 */
export function urlRefusal(url: URL, policy: PushEndpointPolicy): string | null {
  if (url.username !== '' || url.password !== '') return 'must not carry credentials (user:password@)';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https:// URL';
  const literal = ipLiteral(url.hostname);
  const loopbackHere = policy.allowLoopback && (literal !== null ? literal.range() === 'loopback' : isLoopbackName(url.hostname));
  // Development's local push services: any port, plain http too (the loopback never leaves the machine).
  if (loopbackHere) return null;
  if (literal !== null) {
    const refusal = addressRefusal(literal.toString(), policy);
    if (refusal !== null) return refusal;
  }
  if (url.protocol !== 'https:') return 'must be an https:// URL';
  if (url.port !== '') return 'must use the standard https port (443)';
  if (!hostAllowed(url.hostname, policy.allowedHosts)) {
    return `must be on a push service this server sends to (${policy.allowedHosts.join(', ')})`;
  }
  return null;
}

/** Resolves the host once and checks every address it has; the addresses, checked. */
export async function resolveChecked(hostname: string, policy: PushEndpointPolicy, resolve: Resolver): Promise<LookupAddress[]> {
  const addresses = await resolve(hostname);
  if (addresses.length === 0) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, policy);
    if (refusal !== null) throw new EndpointRefused(refusal.replace(/^points at/, 'resolves to'));
  }
  return addresses;
}

/**
 * A `lookup` for http(s).request that resolves the name once, refuses unless every
 * address is allowed, and hands the connection the very addresses it checked: a name
 * that resolves differently a moment later (DNS rebinding) cannot slip in between the
 * check and the connection, because there is no second resolution.
 */
export function checkedLookup(policy: PushEndpointPolicy, resolve: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    resolveChecked(hostname, policy, resolve).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        const usable = wanted.length > 0 ? wanted : addresses;
        if (options.all === true) callback(null, usable);
        else callback(null, (usable[0] as LookupAddress).address, (usable[0] as LookupAddress).family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/**
 * Everything checked at subscribe time: the URL's rules, then the host's addresses.
 * Null when push may go there; else why not (for a 400). The same checks run again at
 * every delivery, on the connection itself.
 */
export async function endpointRefusal(endpoint: string, policy: PushEndpointPolicy, resolve: Resolver = systemResolver): Promise<string | null> {
  if (!URL.canParse(endpoint)) return 'must be a URL';
  const url = new URL(endpoint);
  const refusal = urlRefusal(url, policy);
  if (refusal !== null) return refusal;
  if (ipLiteral(url.hostname) !== null) return null;
  try {
    await resolveChecked(url.hostname, policy, resolve);
    return null;
  } catch (error) {
    if (error instanceof EndpointRefused) return error.reason;
    return 'has a host name that does not resolve';
  }
}

/** The kind of failure of one attempt, for the dead-letter record: never the peer's address, certificate or error text. */
export function failureKind(error: unknown, timedOut: boolean): string {
  if (error instanceof EndpointRefused) return `refused: ${error.message}`;
  if (timedOut) return 'timeout';
  const code = codeOf(error);
  if (code === undefined) return 'network error';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'ERR_STREAM_PREMATURE_CLOSE') return 'connection reset';
  if (code === 'ETIMEDOUT' || code.startsWith('UND_ERR_') && code.includes('TIMEOUT')) return 'timeout';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA' || code === 'ESERVFAIL') return 'dns error';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  if (/TLS|SSL|CERT|HOSTNAME_MISMATCH|UNABLE_TO_|SIGNATURE/.test(code)) return 'tls error';
  return 'network error';
}

/** The error's code, or its cause's (fetch wraps the socket's error). */
function codeOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (e instanceof EndpointRefused) return undefined;
  }
  return undefined;
}
