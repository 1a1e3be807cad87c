import { TokenBuckets } from '../limits/tokenBuckets';

/**
 * Each user's upload budget, in this process: uploads a minute, and bytes a minute.
 * The count is taken before the body is read; the bytes are charged once they are
 * known, and a user whose byte bucket is in debt is refused until it refills, so a
 * large upload is never cut short half-way by the budget.
 */
export class UploadBudget {
  private readonly uploads: TokenBuckets;
  private readonly bytes = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: { uploads: number; bytes: number },
    private readonly now: () => number = () => performance.now(),
  ) {
    this.uploads = new TokenBuckets(perMinute.uploads / 60, perMinute.uploads, now);
  }

  /** Takes one upload from the user's budget; false when their count or bytes are spent. */
  tryStart(userId: string): boolean {
    if (this.bytesLeft(userId) <= 0) return false;
    return this.uploads.tryTake(userId);
  }

  /** Charges the bytes an upload carried (the bucket may go into debt). */
  charge(userId: string, bytes: number): void {
    if (this.perMinute.bytes === 0) return;
    const left = this.bytesLeft(userId);
    this.bytes.set(userId, { tokens: left - bytes, at: this.now() });
  }

  private bytesLeft(userId: string): number {
    const rate = this.perMinute.bytes;
    if (rate === 0) return Number.POSITIVE_INFINITY;
    const bucket = this.bytes.get(userId);
    if (bucket === undefined) return rate;
    const refilled = Math.min(rate, bucket.tokens + ((this.now() - bucket.at) / 60_000) * rate);
    if (refilled >= rate) this.bytes.delete(userId);
    return refilled;
  }

  /** Drops full buckets: only bounds memory. */
  prune(): void {
    this.uploads.prune();
    for (const userId of [...this.bytes.keys()]) this.bytesLeft(userId);
  }
}
