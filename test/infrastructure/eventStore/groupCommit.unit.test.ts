import { EventStoreBusyError } from '../../../src/application/ports/eventStore';
import { GroupCommitter } from '../../../src/infrastructure/eventStore/groupCommit';

/** A commit that records its batches and finishes when the test says so. */
function recorder() {
  const batches: string[][] = [];
  const finishers: Array<() => void> = [];
  const commit = (batch: readonly string[]) => {
    batches.push([...batch]);
    return new Promise<Array<{ ok: true; value: string } | { ok: false; error: unknown }>>((resolve) =>
      finishers.push(() => resolve(batch.map((r) => (r.startsWith('bad') ? { ok: false, error: new Error(r) } : { ok: true, value: `done:${r}` })))),
    );
  };
  return { batches, commit, finishNext: () => finishers.shift()?.() };
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
});
