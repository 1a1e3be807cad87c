import { UnavailableError } from '../../application/unavailable';

/** Node's socket errors that mean the server was not reached, or the connection was lost. */
const SOCKET_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** SQLSTATEs of a server that is shutting down, starting up or full, rather than refusing a statement. */
const SERVER_NOT_SERVING = new Set(['57P01', '57P02', '57P03', '53300']);

/** What `pg` itself says when its connection is gone or could not be had in time. */
const CLIENT_FAILURE = /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection ended/i;

/**
 * Whether `error` says PostgreSQL could not be reached (refused, reset, timed out, shut
 * down), as opposed to a statement it ran and refused (a constraint, a conflict), which
 * keeps its own error.
 */
export function isConnectionFailure(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && (SOCKET_FAILURES.has(e.code) || e.code.startsWith('08') || SERVER_NOT_SERVING.has(e.code))) return true;
  return typeof e?.message === 'string' && CLIENT_FAILURE.test(e.message);
}

/**
 * PostgreSQL is unreachable: the contract's `unavailable` (503 with Retry-After, or an
 * `unavailable` frame), so a client retries instead of reading a server fault. A write
 * whose connection broke at COMMIT may still have been stored: every write of the
 * service is idempotent on its client id, so the retry answers with what was stored.
 */
export class DatabaseUnreachableError extends UnavailableError {
  constructor(override readonly cause: unknown) {
    super('the database cannot be reached; retry shortly', 5);
  }
}

/** Runs `work`; a connection failure comes out as DatabaseUnreachableError, anything else as it was. */
export async function reachingDatabase<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw isConnectionFailure(error) ? new DatabaseUnreachableError(error) : error;
  }
}
