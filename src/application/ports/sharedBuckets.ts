/**
 * Token buckets every server process sees the same: what makes a per-user budget hold
 * across processes. A bucket is created full, with `burst` tokens, and refills at
 * `ratePerSecond`.
 */
export interface SharedBuckets {
  /**
   * Removes up to `want` whole tokens from `key`'s bucket, as many as it holds, and
   * says how many it removed (0 to `want`). A process takes several at once and spends
   * them itself, so a budget costs one round trip per few operations, not per operation.
   * Takes asked at the same time (of different keys) may be answered by one round trip.
   */
  takeUpTo(key: string, ratePerSecond: number, burst: number, want: number): Promise<number>;
  /** Puts back tokens taken and never spent, each bucket capped at its burst. */
  giveBack(unspent: readonly UnspentTokens[]): Promise<void>;
}

export interface UnspentTokens {
  key: string;
  tokens: number;
  burst: number;
}
