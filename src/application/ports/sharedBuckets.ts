/**
 * Token buckets every server process sees the same: what makes a per-user budget hold
 * across processes. `take` removes one token from `key`'s bucket (created full, with
 * `burst` tokens, refilling at `ratePerSecond`) and says whether there was one.
 */
export interface SharedBuckets {
  take(key: string, ratePerSecond: number, burst: number): Promise<boolean>;
}
