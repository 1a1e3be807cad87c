import { EventStoreBusyError } from '../../application/ports/eventStore';

export interface GroupCommitOptions<Request, Result> {
  /**
   * Commits a batch in one transaction. Answers one outcome per request, in order: a
   * request refused on its own (a wrong expected revision) gets its error, and the
   * others still commit. Throwing fails the whole batch.
   */
  commit(batch: readonly Request[]): Promise<Array<{ ok: true; value: Result } | { ok: false; error: unknown }>>;
  /** How much a request weighs against `maxBatchWeight` (events per append). */
  weight(request: Request): number;
  maxBatchWeight: number;
  /** Requests waiting behind the one in flight before new ones are refused at once. */
  maxQueued: number;
  /** A request that waited this long is refused instead of committed late. */
  maxWaitMs: number;
  /** Told of each request refused before it reached a commit (the queue was full, or it waited too long). */
  onDropped?(request: Request): void;
}

interface Waiting<Request, Result> {
  request: Request;
  enqueuedAt: number;
  resolve(value: Result): void;
  reject(error: unknown): void;
}

/**
 * Group commit: requests that arrive while a commit is in flight form the next batch,
 * committed together in one transaction. No fixed wait: a lone request commits at
 * once (in the same tick's batch as any other submitted with it), and under load the
 * batches grow by themselves to whatever arrives during one commit. The queue is
 * bounded in length and in waiting time, so an overloaded store answers "busy" at
 * once instead of accepting work it will finish minutes later.
 */
export class GroupCommitter<Request, Result> {
  private queue: Array<Waiting<Request, Result>> = [];
  private flushing = false;
  private scheduled = false;
  /** How long a commit has taken lately (moving average), for the wait estimate. */
  private commitMs = 0;

  constructor(private readonly options: GroupCommitOptions<Request, Result>) {}

  submit(request: Request): Promise<Result> {
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.reject(new EventStoreBusyError('the event store has too many appends waiting'));
    }
    // Refused now, not after waiting in vain: the full batches already queued would take
    // longer than the wait allowed, at the time commits have been taking lately.
    const batchesAhead = Math.floor(this.queue.length / this.options.maxBatchWeight) + 1;
    if (this.queue.length > 0 && batchesAhead * this.commitMs > this.options.maxWaitMs) {
      return Promise.reject(new EventStoreBusyError('the event store is behind: try again in a moment'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ request, enqueuedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** How many requests wait for the next commit. */
  get queued(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    // A microtask, not a timer: the appends submitted in this same tick share the commit.
    queueMicrotask(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    try {
      const batch = this.takeBatch();
      if (batch.length > 0) await this.commitBatch(batch);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  private takeBatch(): Array<Waiting<Request, Result>> {
    const now = performance.now();
    const batch: Array<Waiting<Request, Result>> = [];
    let weight = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Waiting<Request, Result>;
      if (now - next.enqueuedAt > this.options.maxWaitMs) {
        this.queue.shift();
        this.options.onDropped?.(next.request);
        next.reject(new EventStoreBusyError('the event store is behind: the append waited too long'));
        continue;
      }
      const w = this.options.weight(next.request);
      if (batch.length > 0 && weight + w > this.options.maxBatchWeight) break;
      this.queue.shift();
      batch.push(next);
      weight += w;
    }
    return batch;
  }

  private async commitBatch(batch: Array<Waiting<Request, Result>>): Promise<void> {
    let outcomes;
    const started = performance.now();
    try {
      outcomes = await this.options.commit(batch.map((w) => w.request));
      const took = performance.now() - started;
      this.commitMs = this.commitMs === 0 ? took : 0.8 * this.commitMs + 0.2 * took;
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) waiting.reject(new Error('group commit answered fewer outcomes than requests'));
      else if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
  }
}
