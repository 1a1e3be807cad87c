import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DataDirLock } from './dataDirLock';
import { pgliteWorkerSource } from './pgliteWorkerSource';
import type { SqlDatabase, SqlExecutor } from './sqlDatabase';

type Request =
  | { op: 'query'; text: string; params: unknown[] | undefined }
  | { op: 'txQuery'; txId: number; text: string; params: unknown[] | undefined }
  | { op: 'exec'; script: string }
  | { op: 'begin'; firstStatement: string | undefined }
  | { op: 'end'; txId: number; commit: boolean }
  | { op: 'listen'; channel: string }
  | { op: 'unlisten'; listenId: number }
  | { op: 'close' };

interface WireError {
  message: string;
  name: string;
  stack: string | undefined;
  fields: Record<string, unknown>;
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError } | { listenId: number; payload: string };

type Numbered = Request & { id: number };

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

type Rows<Row> = { rows: Row[]; rowCount: number };

/** Rows as the worker sends them (see pgliteWorkerSource.ts). */
interface WireRows {
  columns: string[];
  jsonColumns: number[];
  values: unknown[][];
  rowCount: number;
}

/** The rows a caller reads: one object per row, json and jsonb values parsed. */
function rowsFrom<Row>(wire: WireRows): Rows<Row> {
  const { columns, values } = wire;
  const isJson = columns.map((_, i) => wire.jsonColumns.includes(i));
  const rows = values.map((value) => {
    const row: Record<string, unknown> = {};
    columns.forEach((column, i) => {
      const cell = value[i];
      row[column] = isJson[i] === true && typeof cell === 'string' ? JSON.parse(cell) : cell;
    });
    return row as Row;
  });
  return { rows, rowCount: wire.rowCount };
}

/** The error PGlite raised in the worker, with the fields callers read (code, detail, constraint, …). */
function rebuild(wire: WireError): Error {
  const error = new Error(wire.message);
  Object.assign(error, wire.fields);
  error.name = wire.name;
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

/**
 * What the embedded PostgreSQL starts with, on top of PGlite's own start parameters.
 * shared_buffers: PGlite's default of 128 MB lives in its WebAssembly memory, which only
 * grows; the data directory's files stay in the operating system's cache anyway, so a
 * smaller pool costs copies, not disk reads (docs/performance.md, "The embedded store").
 */
const EMBEDDED_SETTINGS = ['shared_buffers=16MB'];

/** The worker answers request 0 once PGlite is open. */
const OPEN_REQUEST = 0;

/**
 * Embedded PostgreSQL (PGlite, WebAssembly): the default when no DATABASE_URL is set.
 * PGlite runs in a worker thread of its own (see pgliteWorkerSource.ts for the
 * protocol), so its statements, CPU-bound WebAssembly, never hold up this thread's
 * event loop, which stays free for sockets. One connection, so statements and
 * transactions still run one at a time; only one process may open a data directory
 * (its lock is taken and released here, on the main thread).
 */
export class PgliteDatabase implements SqlDatabase {
  readonly kind = 'pglite' as const;

  private readonly pending = new Map<number, Pending>();
  private readonly notifyHandlers = new Map<number, (payload: string) => void>();
  private nextId = OPEN_REQUEST + 1;
  /** Requests made in this tick, not yet posted (see flush). */
  private outbox: Numbered[] = [];
  /** Why the worker is gone, once it is: every request from then on fails with it. */
  private stopped: Error | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly lock: DataDirLock | null,
  ) {
    worker.on('message', (replies: Reply[]) => {
      for (const reply of replies) this.onReply(reply);
    });
    let crash: unknown = null;
    worker.on('error', (error) => {
      crash = error;
    });
    // A reply that cannot be read would leave its request waiting forever: stop instead.
    worker.on('messageerror', (error) => {
      crash = error;
      void worker.terminate();
    });
    worker.on('exit', (exitCode) => {
      const reason = crash instanceof Error ? `: ${crash.message}` : crash === null ? '' : `: ${String(crash)}`;
      this.stop(
        this.closing !== null && crash === null
          ? new Error('the embedded database is closed')
          : new Error(`the embedded database's worker thread stopped (exit code ${exitCode})${reason}`),
      );
    });
  }

  /**
   * `dataDir` undefined keeps everything in memory. A directory another process has
   * open is refused with DataDirInUseError (one line naming the pid).
   */
  static async open(dataDir?: string): Promise<PgliteDatabase> {
    const lock = dataDir === undefined ? null : DataDirLock.acquire(dataDir);
    try {
      // A new data directory is made (PGlite's initdb) by a thread of its own that then
      // ends: initdb's second PostgreSQL and its memory (about 400 MB resident) go with it,
      // instead of staying in the server's process for good.
      if (dataDir !== undefined && !existsSync(path.join(dataDir, 'PG_VERSION'))) await (await PgliteDatabase.start(dataDir, null)).close();
      return await PgliteDatabase.start(dataDir, lock);
    } catch (error) {
      lock?.release();
      throw error;
    }
  }

  /** PGlite opened in a new worker thread; `lock`, if any, is released when it closes. */
  private static async start(dataDir: string | undefined, lock: DataDirLock | null): Promise<PgliteDatabase> {
    const worker = new Worker(pgliteWorkerSource, {
      eval: true,
      workerData: { pglitePath: require.resolve('@electric-sql/pglite'), dataDir: dataDir ?? null, settings: EMBEDDED_SETTINGS },
    });
    try {
      const db = new PgliteDatabase(worker, lock);
      await db.expect(OPEN_REQUEST);
      return db;
    } catch (error) {
      await worker.terminate();
      throw error;
    }
  }

  /** The thread PGlite runs in (its threadId, for diagnostics and tests). */
  get thread(): Worker {
    return this.worker;
  }

  async query<Row extends object>(text: string, params?: unknown[]): Promise<Rows<Row>> {
    return rowsFrom<Row>((await this.request({ op: 'query', text, params })) as WireRows);
  }

  /**
   * The transaction's statements go to the worker as they are made, without waiting for
   * BEGIN's answer or each other's: the worker runs them in order. Work that makes its
   * statements without awaiting each in turn (Promise.all) has them all sent in one
   * message and run back to back, so PGlite is held for their run alone, not for as many
   * turns of this thread's busy event loop.
   */
  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>, options: { firstStatement?: string } = {}): Promise<T> {
    const { id: txId, answer: began } = this.send({ op: 'begin', firstStatement: options.firstStatement });
    // Awaited below; a BEGIN that failed also fails the work's statements, with its error.
    began.catch(() => undefined);
    let result: T;
    try {
      result = await work({
        query: async <Row extends object>(text: string, params?: unknown[]) =>
          rowsFrom<Row>((await this.request({ op: 'txQuery', txId, text, params })) as WireRows),
      });
    } catch (error) {
      await this.request({ op: 'end', txId, commit: false }).catch(() => undefined);
      // A refused BEGIN is the cause of whatever the work then saw.
      await began;
      throw error;
    }
    await this.request({ op: 'end', txId, commit: true });
    return result;
  }

  async exec(script: string): Promise<void> {
    await this.request({ op: 'exec', script });
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    // The worker tags each notification with the id of the request that subscribed.
    const { id: listenId, answer } = this.send({ op: 'listen', channel });
    this.notifyHandlers.set(listenId, onNotify);
    try {
      await answer;
    } catch (error) {
      this.notifyHandlers.delete(listenId);
      throw error;
    }
    return async () => {
      if (!this.notifyHandlers.delete(listenId) || this.stopped !== null) return;
      await this.request({ op: 'unlisten', listenId });
    };
  }

  /** Closes PGlite (its files flushed), ends the worker thread, then releases the data directory. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (this.stopped === null) await this.request({ op: 'close' });
      } finally {
        await this.worker.terminate();
        this.stop(new Error('the embedded database is closed'));
        this.lock?.release();
      }
    })();
    return this.closing;
  }

  private request(request: Request): Promise<unknown> {
    return this.send(request).answer;
  }

  private send(request: Request): { id: number; answer: Promise<unknown> } {
    const id = this.nextId;
    this.nextId += 1;
    if (this.stopped !== null) return { id, answer: Promise.reject(this.stopped) };
    const answer = this.expect(id);
    this.outbox.push({ id, ...request } as Numbered);
    if (this.outbox.length === 1) queueMicrotask(() => this.flush());
    return { id, answer };
  }

  /** The requests made since the last flush leave together, in one message (at the end of this tick's microtasks). */
  private flush(): void {
    const requests = this.outbox;
    this.outbox = [];
    if (requests.length === 0 || this.stopped !== null) return;
    try {
      this.worker.postMessage(requests);
    } catch {
      // A parameter that cannot be copied to the worker (a function, a symbol): that request alone fails.
      for (const request of requests) {
        try {
          this.worker.postMessage([request]);
        } catch (error) {
          this.settle(request.id)?.reject(error as Error);
        }
      }
    }
  }

  private expect(id: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      // Keep the process alive only while an answer is awaited: an idle database must
      // not hold it open, as PGlite in this thread never did.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
    });
  }

  private settle(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return pending;
  }

  private onReply(reply: Reply): void {
    if ('listenId' in reply) {
      this.notifyHandlers.get(reply.listenId)?.(reply.payload);
      return;
    }
    const pending = this.settle(reply.id);
    if (reply.ok) pending?.resolve(reply.value);
    else pending?.reject(rebuild(reply.error));
  }

  private stop(reason: Error): void {
    this.stopped ??= reason;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const { reject } of waiting) reject(this.stopped);
  }
}
