import { FairTurns } from '../../../src/application/live/fairTurns';

/** Asks for `count` turns for `key`, each logging its start and ending once `hold` resolves. */
function ask(turns: FairTurns, key: string, count: number, log: string[], hold: () => Promise<void> = async () => {}) {
  return Array.from({ length: count }, (_, i) =>
    turns.take(key, async () => {
      log.push(`${key}${i}`);
      await hold();
    }),
  );
}

describe('FairTurns', () => {
  it('serves waiting users round robin, however many turns one of them asked for first', async () => {
    const turns = new FairTurns(1);
    const log: string[] = [];
    const greedy = ask(turns, 'a', 5, log);
    const other = ask(turns, 'b', 2, log);
    const third = ask(turns, 'c', 1, log);
    await Promise.all([...greedy, ...other, ...third]);
    expect(log).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'a2', 'a3', 'a4']);
  });

  it('runs no more turns at once than its concurrency', async () => {
    const turns = new FairTurns(2);
    let running = 0;
    let most = 0;
    const log: string[] = [];
    const hold = async (): Promise<void> => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
    };
    await Promise.all([...ask(turns, 'a', 4, log, hold), ...ask(turns, 'b', 4, log, hold)]);
    expect(most).toBe(2);
    expect(log).toHaveLength(8);
  });

  it('lets work that became ready during a turn run before the next turn starts', async () => {
    const turns = new FairTurns(1);
    const log: string[] = [];
    const first = turns.take('a', async () => {
      log.push('turn 1');
      // Stands for another user's frame arriving while a page is being sent.
      setImmediate(() => log.push('other work'));
    });
    const second = turns.take('a', async () => {
      log.push('turn 2');
    });
    await Promise.all([first, second]);
    expect(log).toEqual(['turn 1', 'other work', 'turn 2']);
  });

  it('ends a turn whose work fails, and the next one still runs', async () => {
    const turns = new FairTurns(1);
    const failing = turns.take('a', async () => {
      throw new Error('read failed');
    });
    await expect(failing).rejects.toThrow('read failed');
    await expect(turns.take('b', async () => 'ran')).resolves.toBe('ran');
    expect(turns.queued).toBe(0);
  });
});
