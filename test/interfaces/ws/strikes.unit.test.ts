import { TokenBuckets } from '../../../src/application/limits/tokenBuckets';
import { Strikes } from '../../../src/interfaces/ws/strikes';

const clock = () => {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('Strikes (when to close with 4029)', () => {
  it('cuts a flood after the allowance of refusals', () => {
    const strikes = new Strikes(40, clock().now);
    const verdicts = Array.from({ length: 41 }, () => strikes.add());
    expect(verdicts.indexOf(true)).toBe(40);
  });

  it('cuts a client at twice the rate after several seconds, never one slightly over it', () => {
    const rate = 10;
    const run = (sendsPerSecond: number, seconds: number): number | null => {
      const time = clock();
      const limiter = new TokenBuckets(rate, rate * 2, time.now);
      const strikes = new Strikes(4 * rate, time.now);
      const gap = 1000 / sendsPerSecond;
      for (let i = 0; i < sendsPerSecond * seconds; i += 1) {
        time.advance(gap);
        if (!limiter.tryTake('u') && strikes.add()) return time.now() / 1000;
      }
      return null;
    };
    const cutAt = run(2 * rate, 60);
    expect(cutAt).not.toBeNull();
    expect(cutAt as number).toBeGreaterThan(5);
    expect(cutAt as number).toBeLessThan(10);
    expect(run(1.3 * rate, 120)).toBeNull();
  });
});
