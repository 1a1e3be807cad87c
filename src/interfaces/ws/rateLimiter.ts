/**
 * The per-user send limit: a token bucket of `ratePerSecond` refills a second and
 * room for a burst of twice that, shared by all of a user's connections in this
 * process (each process keeps its own buckets). `ratePerSecond` 0 turns it off.
 */
export class SendRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get enabled(): boolean {
    return this.ratePerSecond > 0;
  }

  get burst(): number {
    return this.ratePerSecond * 2;
  }

  /** Takes one send from the user's bucket; false when it is empty. */
  tryTake(userId: string): boolean {
    if (!this.enabled) return true;
    const now = this.now();
    const bucket = this.buckets.get(userId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    this.buckets.set(userId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /**
   * Drops the buckets that have refilled: a full bucket is what a new one starts as, so
   * this only bounds memory (reconnecting does not reset a user's bucket).
   */
  prune(): void {
    const now = this.now();
    for (const [userId, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(userId);
    }
  }
}

/**
 * When a connection has kept going "well past" the limit: each refused send adds a
 * strike, strikes drain at a tenth of the allowance (4 × rate) a second, and the
 * connection is closed with 4029 once they pass that allowance. So a flood is cut
 * off after 4 × rate refusals, a client sending at twice the rate after about
 * nine seconds (its burst, then ~7 s of refusals), and one only slightly over the
 * rate (under 1.4×) never.
 */
export class Strikes {
  private strikes = 0;
  private at: number;

  constructor(
    private readonly allowance: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.at = this.now();
  }

  /** Records a refused send; true when the connection should now be closed. */
  add(): boolean {
    const now = this.now();
    const drainPerSecond = this.allowance / 10;
    this.strikes = Math.max(0, this.strikes - ((now - this.at) / 1000) * drainPerSecond) + 1;
    this.at = now;
    return this.strikes > this.allowance;
  }
}
