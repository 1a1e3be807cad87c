import { EventStoreBusyError } from '../../../src/application/ports/eventStore';
import { GroupCommitter, type CommitContext } from '../../../src/infrastructure/eventStore/groupCommit';

/** A commit that records its batches (and what it was told) and finishes when the test says so. */
function recorder() {
  const batches: string[][] = [];
  const contexts: CommitContext[] = [];
  const finishers: Array<() => void> = [];
  const commit = (batch: readonly string[], context: CommitContext) => {
    batches.push([...batch]);
    contexts.push(context);
    return new Promise<Array<{ ok: true; value: string } | { ok: false; error: unknown }>>((resolve) =>
      finishers.push(() => resolve(batch.map((r) => (r.startsWith('bad') ? { ok: false, error: new Error(r) } : { ok: true, value: `done:${r}` })))),
    );
  };
  return { batches, contexts, commit, finishNext: () => finishers.shift()?.() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommitter', () => {
  it('commits a lone request at once, without waiting for company', async () => {
    const r = recorder();
    const committer = new GroupCommitter<string, string>({ commit: r.commit, weight: () => 1, maxBatchWeight: 10, maxQueued: 10, maxWaitMs: 1000 });
    const done = committer.submit('a');
    await tick();
    expect(r.batches).toEqual([['a']]);
    r.finishNext();
    await expect(done).resolves.toBe('done:a');
  });

  it('puts what arrives while a commit is in flight into the next batch, in arrival order, within the weight bound', async () => {
    const r = recorder();
    const committer = new GroupCommitter<string, string>({ commit: r.commit, weight: (x) => x.length, maxBatchWeight: 4, maxQueued: 100, maxWaitMs: 1000 });
    const first = committer.submit('a');
    await tick();
    const rest = ['b', 'cc', 'd', 'e', 'f'].map((x) => committer.submit(x));
    await tick();
    expect(r.batches).toEqual([['a']]);
    r.finishNext();
    await first;
    await tick();
    expect(r.batches).toEqual([['a'], ['b', 'cc', 'd']]);
    r.finishNext();
    await tick();
    expect(r.batches).toEqual([['a'], ['b', 'cc', 'd'], ['e', 'f']]);
    r.finishNext();
    await expect(Promise.all(rest)).resolves.toEqual(['done:b', 'done:cc', 'done:d', 'done:e', 'done:f']);
  });

  it('fails only the request its commit refused; the others of the batch succeed', async () => {
    const r = recorder();
    const committer = new GroupCommitter<string, string>({ commit: r.commit, weight: () => 1, maxBatchWeight: 10, maxQueued: 10, maxWaitMs: 1000 });
    const outcomes = Promise.allSettled(['x', 'bad-y', 'z'].map((s) => committer.submit(s)));
    await tick();
    r.finishNext();
    expect((await outcomes).map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('refuses at once, as busy, what would wait behind a full queue or has waited too long; nothing of it is committed', async () => {
    const r = recorder();
    const dropped: string[] = [];
    const committer = new GroupCommitter<string, string>({
      commit: r.commit,
      weight: () => 1,
      maxBatchWeight: 10,
      maxQueued: 2,
      maxWaitMs: 50,
      onDropped: (x) => dropped.push(x),
    });
    const inFlight = committer.submit('a');
    await tick();
    const queued = [committer.submit('b'), committer.submit('c')];
    await expect(committer.submit('d')).rejects.toBeInstanceOf(EventStoreBusyError);
    await new Promise((resolve) => setTimeout(resolve, 80));
    r.finishNext();
    await inFlight;
    for (const late of queued) await expect(late).rejects.toBeInstanceOf(EventStoreBusyError);
    expect(dropped).toEqual(['b', 'c']);
    expect(r.batches).toEqual([['a']]);
  });

  it('refuses at once, without queueing, when the commits ahead would take longer than the wait allowed', async () => {
    const slowly = (batch: readonly string[]) =>
      new Promise<Array<{ ok: true; value: string }>>((resolve) => setTimeout(() => resolve(batch.map((r) => ({ ok: true, value: r }))), 60));
    const committer = new GroupCommitter<string, string>({ commit: slowly, weight: () => 1, maxBatchWeight: 1, maxQueued: 100, maxWaitMs: 100 });
    await committer.submit('warm-up'); // the store's pace: 60 ms a commit
    const inFlight = committer.submit('a');
    await tick();
    const queued = committer.submit('b'); // one commit ahead: 60 ms, allowed
    const started = performance.now();
    await expect(committer.submit('c')).rejects.toBeInstanceOf(EventStoreBusyError); // two ahead: 120 ms, refused now
    expect(performance.now() - started).toBeLessThan(20);
    await expect(Promise.all([inFlight, queued])).resolves.toEqual(['a', 'b']);
    // With nothing ahead, the next one is taken again.
    await expect(committer.submit('d')).resolves.toBe('d');
  });

  describe('with two batches in flight', () => {
    /** Requests are "stream:name": the stream is the order key. */
    const twoInFlight = (r: ReturnType<typeof recorder>, maxWaitMs = 1000) =>
      new GroupCommitter<string, string>({
        commit: r.commit,
        weight: () => 1,
        maxBatchWeight: 10,
        maxQueued: 100,
        maxWaitMs,
        maxInFlight: 2,
        orderKey: (x) => x.split(':')[0] as string,
      });

    it('sends the next batch while one commits, and holds a request whose key is in flight, with those of its key behind it, until that batch answered', async () => {
      const r = recorder();
      const committer = twoInFlight(r);
      const first = committer.submit('s1:a');
      await tick();
      const rest = ['s1:b', 's2:c', 's1:d', 's3:e'].map((x) => committer.submit(x));
      await tick();
      expect(r.batches).toEqual([['s1:a'], ['s2:c', 's3:e']]);
      expect(committer.queued).toBe(2);
      r.finishNext();
      await first;
      await tick();
      expect(r.batches).toEqual([['s1:a'], ['s2:c', 's3:e'], ['s1:b', 's1:d']]);
      r.finishNext();
      r.finishNext();
      await expect(Promise.all(rest)).resolves.toEqual(['done:s1:b', 'done:s2:c', 'done:s1:d', 'done:s3:e']);
    });

    it('tells a batch sent behind another how long its oldest request may still wait to start, and one sent with nothing ahead that it may wait as long as it takes', async () => {
      const r = recorder();
      const committer = twoInFlight(r, 500);
      const first = committer.submit('s1:a');
      await tick();
      const second = committer.submit('s2:b');
      await tick();
      const third = committer.submit('s3:c');
      await tick();
      expect(r.batches).toEqual([['s1:a'], ['s2:b']]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      r.finishNext();
      await first;
      await tick();
      expect(r.batches).toEqual([['s1:a'], ['s2:b'], ['s3:c']]);
      expect(r.contexts[0]).toEqual({ startWithinMs: null });
      expect(r.contexts[1]?.startWithinMs).toBeGreaterThan(0);
      expect(r.contexts[1]?.startWithinMs).toBeLessThanOrEqual(500);
      // The third waited in the queue at least 100 ms of the 500 allowed.
      expect(r.contexts[2]?.startWithinMs).toBeGreaterThan(0);
      expect(r.contexts[2]?.startWithinMs).toBeLessThanOrEqual(400);
      r.finishNext();
      r.finishNext();
      await expect(Promise.all([second, third])).resolves.toEqual(['done:s2:b', 'done:s3:c']);
    });

    it('fails a whole batch its commit threw for, and the requests held behind it are then sent', async () => {
      const batches: string[][] = [];
      let failFirst!: () => void;
      const committer = new GroupCommitter<string, string>({
        commit: (batch) => {
          batches.push([...batch]);
          if (batches.length === 1) return new Promise((_, reject) => (failFirst = () => reject(new EventStoreBusyError('waited too long'))));
          return Promise.resolve(batch.map((x) => ({ ok: true as const, value: x })));
        },
        weight: () => 1,
        maxBatchWeight: 10,
        maxQueued: 100,
        maxWaitMs: 1000,
        maxInFlight: 2,
        orderKey: (x) => x.split(':')[0] as string,
      });
      const first = committer.submit('s1:a');
      const firstOutcome = first.catch((error: unknown) => error);
      await tick();
      const behind = committer.submit('s1:b');
      await tick();
      expect(batches).toEqual([['s1:a']]);
      failFirst();
      expect(await firstOutcome).toBeInstanceOf(EventStoreBusyError);
      await expect(behind).resolves.toBe('s1:b');
      expect(batches).toEqual([['s1:a'], ['s1:b']]);
    });
  });
});
