import { serializeByKey } from '../../src/application/serializeByKey';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('serializeByKey', () => {
  it('runs work for one key one at a time, in arrival order, and different keys side by side', async () => {
    const run = serializeByKey();
    const log: string[] = [];
    const job = (key: string, name: string) =>
      run(key, async () => {
        log.push(`start ${name}`);
        await tick();
        log.push(`end ${name}`);
        return name;
      });
    const results = await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1')]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
  });

  it('goes on with the next piece of work after one fails', async () => {
    const run = serializeByKey();
    const failed = run('a', async () => {
      throw new Error('boom');
    });
    const next = run('a', async () => 'next');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });
});
