import { EventStoreBusyError } from '../../application/ports/eventStore';

export interface GroupCommitOptions<Request, Result> {
  /**
   * Commits a batch in one transaction. Answers one outcome per request, in order: a
   * request refused on its own (a wrong expected revision) gets its error, and the
   * others still commit. Throwing fails the whole batch.
   */
  commit(batch: readonly Request[], context: CommitContext): Promise<Array<{ ok: true; value: Result } | { ok: false; error: unknown }>>;
  /** How much a request weighs against `maxBatchWeight` (events per append). */
  weight(request: Request): number;
  maxBatchWeight: number;
  /** Requests waiting behind the one in flight before new ones are refused at once. */
  maxQueued: number;
  /** A request that waited this long is refused instead of committed late. */
  maxWaitMs: number;
  /** Told of each request refused before it reached a commit (the queue was full, or it waited too long). */
  onDropped?(request: Request): void;
  /** Batches committing at once (default 1). A batch sent while another is in flight waits on the database for it. */
  maxInFlight?: number;
  /**
   * Requests of one key are decided one batch after another: a request whose key is in a
   * batch still in flight waits for that batch's outcome before it is sent (so nothing is
   * ever decided on an outcome not yet known), and those behind it of the same key wait
   * with it, in order. Without it, every request may go in any batch.
   */
  orderKey?(request: Request): string;
}

export interface CommitContext {
  /**
   * null: nothing is committing ahead of this batch. A number: the batch was sent while
   * another was still committing, and must not start later than this many milliseconds
   * from now (its oldest request's wait would pass `maxWaitMs`): the commit then throws
   * EventStoreBusyError having written nothing, as the request would have been refused
   * had it waited in the queue.
   */
  startWithinMs: number | null;
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
 * batches grow by themselves to whatever arrives during one commit. With `maxInFlight`
 * above 1, the next batch is sent while the previous one commits (the database makes it
 * wait for the previous one; see `orderKey` for what must not go ahead). The queue is
 * bounded in length and in waiting time, so an overloaded store answers "busy" at
 * once instead of accepting work it will finish minutes later.
 */
export class GroupCommitter<Request, Result> {
  private queue: Array<Waiting<Request, Result>> = [];
  private inFlight = 0;
  /** The keys of the requests in the batches in flight, with how many batches hold each. */
  private readonly keysInFlight = new Map<string, number>();
  private scheduled = false;
  /** How long a commit has taken lately (moving average), for the wait estimate. */
  private commitMs = 0;
  private readonly maxInFlight: number;

  constructor(private readonly options: GroupCommitOptions<Request, Result>) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  }

  submit(request: Request): Promise<Result> {
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.reject(new EventStoreBusyError('the event store has too many appends waiting'));
    }
    // Refused now, not after waiting in vain: the full batches already queued would take
    // longer than the wait allowed, at the time commits have been taking lately (several
    // in flight share that time).
    const batchesAhead = Math.floor(this.queue.length / this.options.maxBatchWeight) + 1;
    if (this.queue.length > 0 && (batchesAhead * this.commitMs) / this.maxInFlight > this.options.maxWaitMs) {
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
    if (this.inFlight >= this.maxInFlight || this.scheduled) return;
    this.scheduled = true;
    // A microtask, not a timer: the appends submitted in this same tick share the commit.
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const behindAnother = this.inFlight > 0;
      const batch = this.takeBatch();
      // Everything left waits for the outcome of a batch in flight.
      if (batch.length === 0) return;
      void this.commitBatch(batch, behindAnother);
    }
  }

  private takeBatch(): Array<Waiting<Request, Result>> {
    const now = performance.now();
    const batch: Array<Waiting<Request, Result>> = [];
    const held: Array<Waiting<Request, Result>> = [];
    const heldKeys = new Set<string>();
    let weight = 0;
    let i = 0;
    for (; i < this.queue.length; i += 1) {
      const next = this.queue[i] as Waiting<Request, Result>;
      if (now - next.enqueuedAt > this.options.maxWaitMs) {
        this.options.onDropped?.(next.request);
        next.reject(new EventStoreBusyError('the event store is behind: the append waited too long'));
        continue;
      }
      const key = this.options.orderKey?.(next.request);
      if (key !== undefined && (this.keysInFlight.has(key) || heldKeys.has(key))) {
        heldKeys.add(key);
        held.push(next);
        continue;
      }
      const w = this.options.weight(next.request);
      if (batch.length > 0 && weight + w > this.options.maxBatchWeight) break;
      batch.push(next);
      weight += w;
    }
    this.queue = [...held, ...this.queue.slice(i)];
    return batch;
  }

  private async commitBatch(batch: Array<Waiting<Request, Result>>, behindAnother: boolean): Promise<void> {
    const started = performance.now();
    const keys = this.options.orderKey === undefined ? [] : batch.map((w) => this.options.orderKey?.(w.request) as string);
    this.inFlight += 1;
    for (const key of keys) this.keysInFlight.set(key, (this.keysInFlight.get(key) ?? 0) + 1);
    const oldest = Math.min(...batch.map((w) => w.enqueuedAt));
    const context: CommitContext = { startWithinMs: behindAnother ? Math.max(1, this.options.maxWaitMs - (started - oldest)) : null };
    let outcomes: Awaited<ReturnType<GroupCommitOptions<Request, Result>['commit']>> | null = null;
    let failure: unknown = null;
    try {
      outcomes = await this.options.commit(
        batch.map((w) => w.request),
        context,
      );
      const took = performance.now() - started;
      this.commitMs = this.commitMs === 0 ? took : 0.8 * this.commitMs + 0.2 * took;
    } catch (error) {
      failure = error;
    }
    this.inFlight -= 1;
    for (const key of keys) {
      const count = (this.keysInFlight.get(key) ?? 1) - 1;
      if (count === 0) this.keysInFlight.delete(key);
      else this.keysInFlight.set(key, count);
    }
    batch.forEach((waiting, i) => {
      const outcome = outcomes?.[i];
      if (outcomes === null) waiting.reject(failure);
      else if (outcome === undefined) waiting.reject(new Error('group commit answered fewer outcomes than requests'));
      else if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
    if (this.queue.length > 0) this.schedule();
  }
}
