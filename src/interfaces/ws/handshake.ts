import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Principal, TokenVerifier } from '../../application/ports/auth';
import type { Logger } from '../../application/ports/logger';
import { errorBody, type ErrorCode } from '../errors';
import { UnavailableError } from '../../application/unavailable';
import { refusedTokenMessage } from '../refusedToken';

/** The subprotocol a browser offers next to its token: `new WebSocket(url, ["chat.v1", token])`. */
export const CHAT_PROTOCOL = 'chat.v1';
export const CHAT_PATH = '/chat';

export interface HandshakeOptions {
  verifier: TokenVerifier;
  /** Null: any Origin. */
  allowedOrigins: readonly string[] | null;
  /** Where the reason a token was refused goes (debug level); never to the client. */
  logger: Logger;
}

export type HandshakeResult =
  | {
      ok: true;
      principal: Principal;
      /** The subprotocol to answer with, or false for none. Never the token unless it was offered alone. */
      protocol: string | false;
    }
  | { ok: false; status: RefusalStatus; code: ErrorCode; message: string };

export type RefusalStatus = 401 | 403 | 404 | 503;

/** `Sec-WebSocket-Protocol` as the list the client offered (comma separated, in order). */
export function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  // Another scheme (a browser may send Basic credentials on its own) is not ours: look
  // for the token in the subprotocol list instead. A malformed Bearer header is refused.
  if (!/^Bearer\b/i.test(header)) return null;
  const match = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i.exec(header);
  return match === null ? '' : (match[1] as string);
}

function normalizeOrigin(origin: string): string | null {
  try {
    return new URL(origin).origin;
  } catch {
    return null;
  }
}

/**
 * Decides an upgrade request on `/chat` before any socket opens:
 * - the token comes from `Authorization: Bearer`, else from the subprotocol list: the one
 *   entry other than `chat.v1` (a browser cannot set headers);
 * - a bad or missing token is 401; an `Origin` outside ALLOWED_ORIGINS (when set) is 403;
 *   a request without `Origin` (not a browser) is not judged by it;
 * - the answered subprotocol is `chat.v1` whenever it was offered, in any position, so
 *   the token is never echoed next to it. A token offered alone is echoed, because a
 *   browser (and `ws`) fails a handshake whose answer names none of the offered
 *   protocols, and the contract accepts that form (docs/websocket.md says why).
 */
export async function decideHandshake(req: IncomingMessage, options: HandshakeOptions): Promise<HandshakeResult> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== CHAT_PATH) return { ok: false, status: 404, code: 'not_found', message: `no WebSocket endpoint at ${path ?? ''}` };

  const offered = offeredProtocols(req);
  const header = bearerToken(req);
  let token: string | null;
  if (header !== null) {
    token = header === '' ? null : header;
  } else {
    const candidates = offered.filter((p) => p !== CHAT_PROTOCOL);
    token = candidates.length === 1 ? (candidates[0] as string) : null;
    if (candidates.length > 1) {
      return { ok: false, status: 401, code: 'unauthorized', message: 'offer the token once, next to "chat.v1"' };
    }
  }
  if (token === null) {
    return { ok: false, status: 401, code: 'unauthorized', message: 'a token is required: Sec-WebSocket-Protocol ["chat.v1", token] or Authorization: Bearer' };
  }
  let principal: Principal;
  try {
    principal = await options.verifier.verify(token);
  } catch (error) {
    if (error instanceof UnavailableError) return { ok: false, status: 503, code: 'unavailable', message: error.message };
    return { ok: false, status: 401, code: 'unauthorized', message: refusedTokenMessage(error, options.logger, 'handshake') };
  }

  const origin = req.headers.origin;
  if (options.allowedOrigins !== null && origin !== undefined) {
    const normalized = normalizeOrigin(origin);
    if (normalized === null || !options.allowedOrigins.includes(normalized)) {
      return { ok: false, status: 403, code: 'forbidden', message: `origin ${origin.slice(0, 200)} is not allowed` };
    }
  }

  let protocol: string | false = false;
  if (offered.includes(CHAT_PROTOCOL)) protocol = CHAT_PROTOCOL;
  else if (offered.length === 1 && offered[0] === token) protocol = token;
  return { ok: true, principal, protocol };
}

const reasons: Record<RefusalStatus, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/** Answers a refused upgrade with a plain HTTP response (the contract's error body) and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: RefusalStatus, code: ErrorCode, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(errorBody(code, message));
  const lines = [
    `HTTP/1.1 ${status} ${reasons[status]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    'X-Content-Type-Options: nosniff',
    'Cache-Control: no-store',
    ...(status === 401 ? ['WWW-Authenticate: Bearer'] : []),
    ...(status === 503 ? ['Retry-After: 5'] : []),
  ];
  // Destroy once written, as `ws` does: the HTTP server allows half-open sockets, and a
  // refused client that never closes its side would otherwise hold a descriptor.
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), 5000).unref();
}
