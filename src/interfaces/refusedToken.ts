import type { Logger } from '../application/ports/logger';

/**
 * The one message a refused token gets, over HTTP, the WebSocket handshake and the
 * `auth` frame alike: expired or not valid, nothing more. The reason goes to the
 * debug log only: it can name the expected issuer or audience.
 */
export function refusedTokenMessage(error: unknown, logger: Logger, via: 'http' | 'handshake' | 'auth frame'): string {
  const reason = error instanceof Error ? error.message : String(error);
  logger.debug({ reason, via }, 'token refused');
  return /expired/i.test(reason) ? 'the token has expired' : 'the token is not valid';
}
