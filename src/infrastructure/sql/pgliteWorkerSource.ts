/**
 * The code of the worker thread that owns the embedded database (see PgliteDatabase),
 * as a string the main thread hands to `new Worker(source, { eval: true })`.
 *
 * Why a string rather than a worker file: a Worker needs JavaScript it can load on its
 * own, and this project's code runs from two places, compiled to dist/ (`npm start`)
 * and as TypeScript under Jest (@swc/jest transforms in the test process only; a Worker
 * given a .ts file fails to load it). A string of plain CommonJS loads the same in both,
 * with no build step to copy a .js file beside the compiled code. It `require`s PGlite
 * by the absolute path the main thread resolved (workerData.pglitePath), so it does not
 * depend on the process's working directory.
 *
 * The protocol, one message per request, each with an id the answer carries back
 * (`{ id, ok: true, value }` or `{ id, ok: false, error }`):
 * - `open` is implicit: the worker posts the answer to id 0 once PGlite is ready;
 * - `query { text, params }` and `exec { script }` run on the database;
 * - `begin { firstStatement }` opens a transaction (PGlite's `transaction()`, held open
 *   until `end`) and answers with the transaction's id once BEGIN (and the first
 *   statement) ran; `txQuery { txId, text, params }` runs inside it; `end { txId, commit }`
 *   commits or rolls back and answers when that is done. PGlite's own mutex makes every
 *   other statement wait meanwhile, as in one connection;
 * - `listen { channel }` subscribes: each notification comes back as
 *   `{ listenId, payload }`; `unlisten { listenId }` stops it;
 * - `close` closes PGlite (flushing the data directory); the main thread then ends the
 *   thread.
 * Rows go back as PGlite parsed them (Date, Uint8Array, numbers, JSON values): all of
 * them survive structured cloning. Errors go back as their message, name, stack and own
 * fields (PostgreSQL's code, detail, constraint, …), which the main thread puts back on
 * an Error.
 */
export const pgliteWorkerSource = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);

// Thrown out of a transaction's callback to make PGlite roll it back.
const ROLLBACK = Symbol('rollback');

function wireError(error) {
  if (!(error instanceof Error)) return { message: String(error), name: 'Error', stack: undefined, fields: {} };
  const fields = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value !== 'function' && typeof value !== 'symbol') fields[key] = value;
  }
  return { message: error.message, name: error.name, stack: error.stack, fields };
}

function answer(id, value) {
  parentPort.postMessage({ id, ok: true, value });
}

function fail(id, error) {
  const wire = wireError(error);
  try {
    parentPort.postMessage({ id, ok: false, error: wire });
  } catch {
    // A field that cannot be cloned: the message and the code still can.
    const { code, detail, constraint } = wire.fields;
    parentPort.postMessage({ id, ok: false, error: { ...wire, fields: { code, detail, constraint } } });
  }
}

function rowsOf(result) {
  return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
}

let db;
const transactions = new Map(); // txId -> { tx, end(endId, commit) }
const listeners = new Map(); // listenId -> unsubscribe

function begin({ id, firstStatement }) {
  let began = false;
  let endId;
  db.transaction(async (tx) => {
    if (firstStatement !== undefined) await tx.exec(firstStatement);
    await new Promise((resolve, reject) => {
      transactions.set(id, {
        tx,
        end: (requestId, commit) => {
          endId = requestId;
          if (commit) resolve();
          else reject(ROLLBACK);
        },
      });
      began = true;
      answer(id, id);
    });
  }).then(
    () => {
      transactions.delete(id);
      answer(endId, null);
    },
    (error) => {
      transactions.delete(id);
      if (!began) fail(id, error);
      else if (error === ROLLBACK) answer(endId, null);
      else fail(endId, error);
    },
  );
}

function transactionOf(txId) {
  const open = transactions.get(txId);
  if (open === undefined) throw new Error('the transaction is no longer open');
  return open;
}

async function handle(message) {
  switch (message.op) {
    case 'query':
      return rowsOf(await db.query(message.text, message.params));
    case 'txQuery':
      return rowsOf(await transactionOf(message.txId).tx.query(message.text, message.params));
    case 'exec':
      await db.exec(message.script);
      return null;
    case 'listen': {
      const listenId = message.id;
      listeners.set(listenId, await db.listen(message.channel, (payload) => parentPort.postMessage({ listenId, payload })));
      return null;
    }
    case 'unlisten': {
      const unsubscribe = listeners.get(message.listenId);
      listeners.delete(message.listenId);
      if (unsubscribe !== undefined) await unsubscribe();
      return null;
    }
    case 'close':
      if (!db.closed) await db.close();
      return null;
    default:
      throw new Error('unknown request ' + String(message.op));
  }
}

parentPort.on('message', (message) => {
  if (message.op === 'begin') return begin(message);
  if (message.op === 'end') {
    try {
      transactionOf(message.txId).end(message.id, message.commit);
    } catch (error) {
      fail(message.id, error);
    }
    return;
  }
  handle(message).then((value) => answer(message.id, value), (error) => fail(message.id, error));
});

(async () => {
  db = workerData.dataDir === null ? new PGlite() : new PGlite(workerData.dataDir);
  await db.waitReady;
})().then(() => answer(0, null), (error) => fail(0, error));
`;
