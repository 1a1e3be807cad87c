import { TokenBuckets } from '../../../src/application/limits/tokenBuckets';
import { UserBudgets } from '../../../src/application/limits/userBudgets';
import type { SharedBuckets } from '../../../src/application/ports/sharedBuckets';

const clock = () => {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

describe('TokenBuckets', () => {
  it('lets a user burst to twice the rate, then refills at the rate', () => {
    const time = clock();
    const limiter = new TokenBuckets(10, 10 * 2, time.now);
    const taken = Array.from({ length: 25 }, () => limiter.tryTake('u'));
    expect(taken.filter(Boolean)).toHaveLength(20);
    time.advance(100);
    expect(limiter.tryTake('u')).toBe(true);
    expect(limiter.tryTake('u')).toBe(false);
    time.advance(2000);
    expect(Array.from({ length: 25 }, () => limiter.tryTake('u')).filter(Boolean)).toHaveLength(20);
  });

  it('keeps one bucket per user', () => {
    const limiter = new TokenBuckets(1, 1 * 2, clock().now);
    expect([limiter.tryTake('a'), limiter.tryTake('a'), limiter.tryTake('a')]).toEqual([true, true, false]);
    expect(limiter.tryTake('b')).toBe(true);
  });

  it('is off at 0', () => {
    const limiter = new TokenBuckets(0, 0 * 2, clock().now);
    expect(Array.from({ length: 1000 }, () => limiter.tryTake('u')).every(Boolean)).toBe(true);
  });

  it('pruning forgets only refilled buckets, so reconnecting does not reset a user', () => {
    const time = clock();
    const limiter = new TokenBuckets(1, 1 * 2, time.now);
    limiter.tryTake('u');
    limiter.tryTake('u');
    limiter.prune();
    expect(limiter.tryTake('u')).toBe(false);
    time.advance(5000);
    limiter.prune();
    expect([limiter.tryTake('u'), limiter.tryTake('u'), limiter.tryTake('u')]).toEqual([true, true, false]);
  });
});


describe('UserBudgets', () => {
  const settings = { perSecond: { send: 10, command: 2, read: 10, resume: 20, typing: 5 }, typingIntervalMs: 1000 };

  it('keeps one budget per kind: a user out of commands can still send', () => {
    const budgets = new UserBudgets(settings, { now: clock().now });
    const commands = Array.from({ length: 10 }, () => budgets.tryTakeHere('command', 'u'));
    expect(commands.filter(Boolean)).toHaveLength(4);
    expect(budgets.tryTakeHere('send', 'u')).toBe(true);
    expect(budgets.refusal('command')).toBe('too many commands (open, block, unblock, push subscribe): at most 2 a second (bursts up to 4); slow down');
  });

  it('forwards one typing signal per user and room an interval, whichever connection it came from', () => {
    const time = clock();
    const budgets = new UserBudgets(settings, { now: time.now });
    expect([budgets.mayType('u', 'r1'), budgets.mayType('u', 'r1'), budgets.mayType('u', 'r2')]).toEqual([true, false, true]);
    time.advance(999);
    expect(budgets.mayType('u', 'r1')).toBe(false);
    time.advance(1);
    expect(budgets.mayType('u', 'r1')).toBe(true);
    expect(budgets.mayType('v', 'r1')).toBe(true);
  });

  it('caps typing over all of a user\'s rooms by the typing budget', () => {
    const budgets = new UserBudgets(settings, { now: clock().now });
    const forwarded = Array.from({ length: 30 }, (_, i) => budgets.mayType('u', `room-${i}`));
    expect(forwarded.filter(Boolean)).toHaveLength(10);
  });

  it('asks the shared buckets only for shared kinds, and lets the operation through when they fail', async () => {
    const asked: string[] = [];
    let failing = false;
    const shared: SharedBuckets = {
      takeUpTo: async (key) => {
        asked.push(key);
        if (failing) throw new Error('database down');
        return 0;
      },
      giveBack: async () => undefined,
    };
    const budgets = new UserBudgets(settings, { shared, sharedKinds: ['send'], now: clock().now });
    expect(await budgets.take('send', 'u')).toBe(false);
    expect(await budgets.take('read', 'u')).toBe(true);
    expect(asked).toEqual(['send:u']);
    failing = true;
    expect(await budgets.take('send', 'u')).toBe(true);
  });

  it('is off for a kind set to 0', () => {
    const budgets = new UserBudgets({ ...settings, perSecond: { ...settings.perSecond, resume: 0 } }, { now: clock().now });
    expect(Array.from({ length: 500 }, () => budgets.tryTakeHere('resume', 'u')).every(Boolean)).toBe(true);
  });
});
