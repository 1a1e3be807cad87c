/**
 * Work that may be large but must never crowd out the rest (replaying a room's
 * history) takes turns here: at most `concurrency` turns run at once in the process,
 * the waiting keys (users) are served round robin, whatever number of turns each one
 * asks for, and before each turn starts the event loop first handles whatever I/O is
 * ready (other users' frames, the database's answers to their commands). So one user's
 * replays, from however many connections, cost the others at most one turn's length of
 * waiting, and that user shares the replay capacity equally with any other replaying.
 */
export class FairTurns {
  /** Waiting turns by key; the map's order is the round robin's order. */
  private readonly waiting = new Map<string, Array<() => void>>();
  private running = 0;
  private scheduled = false;

  constructor(private readonly concurrency = 1) {}

  /** Runs `work` when `key`'s turn comes; the turn ends when `work` settles. */
  async take<T>(key: string, work: () => Promise<T>): Promise<T> {
    await new Promise<void>((start) => {
      const queue = this.waiting.get(key);
      if (queue === undefined) this.waiting.set(key, [start]);
      else queue.push(start);
      this.schedule();
    });
    try {
      return await work();
    } finally {
      this.running -= 1;
      this.schedule();
    }
  }

  /** Turns waiting to start (for metrics and tests). */
  get queued(): number {
    let count = 0;
    for (const queue of this.waiting.values()) count += queue.length;
    return count;
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.concurrency || this.waiting.size === 0) return;
    this.scheduled = true;
    // setImmediate runs after the I/O callbacks already due, so others' work goes first.
    setImmediate(() => {
      this.scheduled = false;
      this.startNext();
      this.schedule();
    });
  }

  private startNext(): void {
    if (this.running >= this.concurrency) return;
    const next = this.waiting.entries().next();
    if (next.done === true) return;
    const [key, queue] = next.value;
    const start = queue.shift() as () => void;
    // To the back of the round robin; gone when it has nothing more waiting.
    this.waiting.delete(key);
    if (queue.length > 0) this.waiting.set(key, queue);
    this.running += 1;
    start();
  }
}
