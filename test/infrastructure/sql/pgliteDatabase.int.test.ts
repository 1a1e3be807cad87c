import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { types } from 'node:util';
import { threadId } from 'node:worker_threads';
import { DataDirInUseError } from '../../../src/infrastructure/sql/dataDirLock';
import { PgliteDatabase } from '../../../src/infrastructure/sql/pgliteDatabase';

/**
 * The embedded database runs PGlite in a worker thread and speaks to it by messages:
 * what a caller on the main thread sees must be what PGlite itself gives (rows, errors
 * with their PostgreSQL fields, transactions, notifications), and a worker that is
 * gone must fail requests instead of leaving them waiting.
 */
describe('PgliteDatabase (PGlite in a worker thread)', () => {
  let dataDir: string;
  let db: PgliteDatabase;

  // One data directory for the suite (a new one costs PGlite's initdb); the tests that
  // close or kill the database come last.
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'chat-pglite-worker-'));
    db = await PgliteDatabase.open(dataDir);
    await db.exec(`CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL, made timestamptz, body bytea, doc jsonb, big bigint)`);
  });
  beforeEach(async () => {
    await db.exec('TRUNCATE item');
  });
  afterAll(async () => {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs PGlite on a thread other than this one', () => {
    expect(db.thread.threadId).not.toBe(threadId);
  });

  it('gives rows back with their JavaScript types, and counts the rows a statement touched', async () => {
    const made = new Date('2026-01-02T03:04:05.678Z');
    const inserted = await db.query(`INSERT INTO item VALUES ($1, $2, $3, $4, $5, $6), (2, 'b', NULL, NULL, NULL, NULL)`, [
      1,
      'a',
      made,
      Buffer.from([0, 1, 255]),
      JSON.stringify({ nested: [1, 'x', null] }),
      '9007199254740993',
    ]);
    expect(inserted.rowCount).toBe(2);
    const { rows } = await db.query<{ id: number; made: Date; body: Uint8Array; doc: unknown; big: string }>(
      'SELECT id, made, body, doc, big::text AS big FROM item WHERE id = $1',
      [1],
    );
    expect(rows).toHaveLength(1);
    // Not toBeInstanceOf: the rows are rebuilt in the process's own realm, not Jest's sandbox.
    expect(types.isDate(rows[0]?.made)).toBe(true);
    expect(rows[0]?.made.toISOString()).toBe(made.toISOString());
    expect(types.isUint8Array(rows[0]?.body)).toBe(true);
    expect([...(rows[0]?.body ?? [])]).toEqual([0, 1, 255]);
    expect(rows[0]).toEqual(expect.objectContaining({ id: 1, doc: { nested: [1, 'x', null] }, big: '9007199254740993' }));
    expect((await db.query(`UPDATE item SET name = 'c'`)).rowCount).toBe(2);
  });

  it('rejects with the PostgreSQL error and the fields callers read', async () => {
    await db.query(`INSERT INTO item (id, name) VALUES (1, 'a')`);
    const duplicate = await db.query(`INSERT INTO item (id, name) VALUES (1, 'again')`).catch((error: unknown) => error);
    expect(duplicate).toBeInstanceOf(Error);
    expect(duplicate).toMatchObject({
      message: 'duplicate key value violates unique constraint "item_pkey"',
      code: '23505',
      detail: 'Key (id)=(1) already exists.',
      constraint: 'item_pkey',
      table: 'item',
      severity: 'ERROR',
    });
    await expect(db.query('SELECT nope FROM item')).rejects.toMatchObject({ code: '42703', message: 'column "nope" does not exist' });
    // The database is still usable after an error.
    expect((await db.query('SELECT count(*)::int AS n FROM item')).rows).toEqual([{ n: 1 }]);
  });

  it('commits a transaction whose work resolves, with its first statement run inside it', async () => {
    const result = await db.transaction(
      async (tx) => {
        await tx.query(`INSERT INTO item (id, name) VALUES (1, 'a')`);
        await Promise.all([tx.query(`INSERT INTO item (id, name) VALUES (2, 'b')`), tx.query(`INSERT INTO item (id, name) VALUES (3, 'c')`)]);
        return (await tx.query<{ transaction_isolation: string }>('SHOW transaction_isolation')).rows[0]?.transaction_isolation;
      },
      { firstStatement: 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE' },
    );
    expect(result).toBe('serializable');
    expect((await db.query('SELECT id FROM item ORDER BY id')).rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it("rolls a transaction back when its work throws, and rethrows the work's own error", async () => {
    const refusal = new Error('changed my mind');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO item (id, name) VALUES (1, 'a')`);
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    // A failed statement inside: the work sees the PostgreSQL error, nothing is kept.
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO item (id, name) VALUES (5, 'e')`);
        await tx.query(`INSERT INTO item (id, name) VALUES (5, 'e')`);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect((await db.query('SELECT count(*)::int AS n FROM item')).rows).toEqual([{ n: 0 }]);
  });

  it("runs a transaction's statements sent at once in the order made, BEGIN first", async () => {
    const counted = await db.transaction(
      async (tx) => {
        const [, , count] = await Promise.all([
          tx.query(`INSERT INTO item (id, name) VALUES (1, 'a')`),
          tx.query(`UPDATE item SET name = 'b' WHERE id = 1`),
          tx.query<{ n: number; name: string }>(`SELECT count(*)::int AS n, max(name) AS name FROM item`),
          tx.query(`INSERT INTO item (id, name) VALUES (2, 'c')`),
        ]);
        return count.rows[0];
      },
      { firstStatement: 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE' },
    );
    expect(counted).toEqual({ n: 1, name: 'b' });
    expect((await db.query('SELECT id, name FROM item ORDER BY id')).rows).toEqual([
      { id: 1, name: 'b' },
      { id: 2, name: 'c' },
    ]);
  });

  it('fails a transaction whose first statement fails, with its error, and keeps none of its statements', async () => {
    let statement: Promise<unknown> | undefined;
    await expect(
      db.transaction(
        async (tx) => {
          statement = tx.query(`INSERT INTO item (id, name) VALUES (1, 'a')`);
          await statement;
        },
        { firstStatement: 'SELECT nope FROM item' },
      ),
    ).rejects.toMatchObject({ code: '42703', message: 'column "nope" does not exist' });
    await expect(statement).rejects.toMatchObject({ code: '42703' });
    expect((await db.query('SELECT count(*)::int AS n FROM item')).rows).toEqual([{ n: 0 }]);
  });

  it('makes statements from outside a transaction wait until it ends, as on one connection', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let insideDone!: () => void;
    const inside = new Promise<void>((resolve) => (insideDone = resolve));
    const transaction = db.transaction(async (tx) => {
      await tx.query(`INSERT INTO item (id, name) VALUES (1, 'a')`);
      insideDone();
      await held;
      await tx.query(`INSERT INTO item (id, name) VALUES (2, 'b')`);
    });
    await inside;
    const outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM item');
    release();
    await transaction;
    // Had it run while the transaction was open, it would have counted one row.
    expect((await outside).rows).toEqual([{ n: 2 }]);
  });

  it('posts notifications back to the listener until it stops listening', async () => {
    const payloads: string[] = [];
    const unlisten = await db.listen('news', (payload) => payloads.push(payload));
    await db.query(`SELECT pg_notify('news', 'first')`);
    await db.transaction(async (tx) => {
      await tx.query(`SELECT pg_notify('news', 'second')`);
    });
    await db.query(`SELECT pg_notify('other', 'not mine')`);
    await unlisten();
    await db.query(`SELECT pg_notify('news', 'after')`);
    expect(payloads).toEqual(['first', 'second']);
  });

  it('refuses a parameter that cannot be sent to the worker, and carries on', async () => {
    await expect(db.query('SELECT $1::text AS x', [() => 'x'])).rejects.toThrow(/could not be cloned/);
    expect((await db.query('SELECT $1::text AS x', ['y'])).rows).toEqual([{ x: 'y' }]);
    // Made in the same tick as others, which leave in the same message: it alone fails.
    const [before, refused, after] = await Promise.allSettled([
      db.query('SELECT $1::text AS x', ['before']),
      db.query('SELECT $1::text AS x', [Symbol('x')]),
      db.query('SELECT $1::text AS x', ['after']),
    ]);
    expect(before).toMatchObject({ status: 'fulfilled', value: { rows: [{ x: 'before' }] } });
    expect(refused).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/could not be cloned/) }) });
    expect(after).toMatchObject({ status: 'fulfilled', value: { rows: [{ x: 'after' }] } });
  });

  it("keeps a small buffer pool (16 MB, not PGlite's 128 MB): its memory at rest", async () => {
    expect((await db.query('SHOW shared_buffers')).rows).toEqual([{ shared_buffers: '16MB' }]);
  });

  it('keeps its data across close and open, and holds the data directory until closed', async () => {
    await db.query(`INSERT INTO item (id, name) VALUES (7, 'kept')`);
    await expect(PgliteDatabase.open(dataDir)).rejects.toBeInstanceOf(DataDirInUseError);
    await db.close();
    expect(existsSync(path.join(dataDir, 'chat-service.lock'))).toBe(false);
    await expect(db.query('SELECT 1')).rejects.toThrow('the embedded database is closed');
    db = await PgliteDatabase.open(dataDir);
    expect((await db.query('SELECT name FROM item')).rows).toEqual([{ name: 'kept' }]);
  });

  it('fails every waiting request, and every later one, when its worker thread dies', async () => {
    let txWork!: Promise<unknown>;
    const transaction = db.transaction(async (tx) => {
      const waiting = db.query('SELECT 1');
      await db.thread.terminate();
      txWork = tx.query('SELECT 2').catch((error: unknown) => error);
      await expect(waiting).rejects.toThrow(/embedded database's worker thread stopped \(exit code 1\)/);
    });
    await expect(transaction).rejects.toThrow(/worker thread stopped/);
    expect(await txWork).toEqual(expect.objectContaining({ message: expect.stringMatching(/worker thread stopped/) }));
    await expect(db.query('SELECT 3')).rejects.toThrow(/worker thread stopped/);
    await db.close();
    expect(existsSync(path.join(dataDir, 'chat-service.lock'))).toBe(false);
  });
});
