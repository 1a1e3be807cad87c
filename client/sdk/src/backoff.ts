export interface BackoffOptions {
  /** First retry's ceiling (default 500 ms). */
  initialMs: number;
  /** Largest ceiling (default 30 s). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

/**
 * "Full jitter" exponential backoff: a uniformly random wait below a ceiling that
 * doubles per attempt. Spreads a crowd of clients reconnecting after a server restart
 * instead of sending them back in waves.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
