/**
 * When a connection has kept going "well past" its budgets (src/application/limits):
 * each refused send, read or resume adds a
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
