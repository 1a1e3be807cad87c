import { SendRateLimiter, Strikes } from '../../../src/interfaces/ws/rateLimiter';

const clock = () => {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('SendRateLimiter', () => {
  it('lets a user burst to twice the rate, then refills at the rate', () => {
    const time = clock();
    const limiter = new SendRateLimiter(10, time.now);
    const taken = Array.from({ length: 25 }, () => limiter.tryTake('u'));
    expect(taken.filter(Boolean)).toHaveLength(20);
    time.advance(100);
    expect(limiter.tryTake('u')).toBe(true);
    expect(limiter.tryTake('u')).toBe(false);
    time.advance(2000);
    expect(Array.from({ length: 25 }, () => limiter.tryTake('u')).filter(Boolean)).toHaveLength(20);
  });

  it('keeps one bucket per user', () => {
    const limiter = new SendRateLimiter(1, clock().now);
    expect([limiter.tryTake('a'), limiter.tryTake('a'), limiter.tryTake('a')]).toEqual([true, true, false]);
    expect(limiter.tryTake('b')).toBe(true);
  });

  it('is off at 0', () => {
    const limiter = new SendRateLimiter(0, clock().now);
    expect(Array.from({ length: 1000 }, () => limiter.tryTake('u')).every(Boolean)).toBe(true);
  });

  it('pruning forgets only refilled buckets, so reconnecting does not reset a user', () => {
    const time = clock();
    const limiter = new SendRateLimiter(1, time.now);
    limiter.tryTake('u');
    limiter.tryTake('u');
    limiter.prune();
    expect(limiter.tryTake('u')).toBe(false);
    time.advance(5000);
    limiter.prune();
    expect([limiter.tryTake('u'), limiter.tryTake('u'), limiter.tryTake('u')]).toEqual([true, true, false]);
  });
});

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
      const limiter = new SendRateLimiter(rate, time.now);
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
