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
 * The protocol: requests come as arrays (each request the main thread made in one tick,
 * in the order made), answers go back as arrays too (each answer ready in one turn of
 * this thread's loop, or sooner once the oldest has waited a millisecond). Each request
 * has an id its answer carries back (`{ id, ok: true, value }` or `{ id, ok: false, error }`):
 * - `open` is implicit: the worker posts the answer to id 0 once PGlite is ready;
 * - `query { text, params }` and `exec { script }` run on the database;
 * - `begin { firstStatement }` opens a transaction (PGlite's `transaction()`, held open
 *   until `end`), its id the request's, and answers once BEGIN (and the first statement)
 *   ran; `txQuery { txId, text, params }` runs inside it and `end { txId, commit }`
 *   commits or rolls back and answers when that is done. Neither waits for BEGIN's
 *   answer to be sent: they queue in the worker and run in the order sent, after BEGIN
 *   (a failed BEGIN fails them with its error). PGlite's own mutex makes every other
 *   statement wait meanwhile, as in one connection;
 * - `listen { channel }` subscribes: each notification comes back as
 *   `{ listenId, payload }`; `unlisten { listenId }` stops it;
 * - `close` closes PGlite (flushing the data directory); the main thread then ends the
 *   thread.
 * PGlite starts with PostgreSQL's `-c` settings of workerData.settings added to its own.
 * Rows go back as `{ columns, jsonColumns, values, rowCount }`: each row an array of the
 * values PGlite parsed (Date, Uint8Array, numbers: all survive structured cloning), but
 * json and jsonb as their text, which the main thread parses (the columns listed in
 * jsonColumns). Errors go back as their message, name, stack and own
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
  // PostgreSQL's fields (code, detail, constraint, …) are strings; PGlite also hangs the
  // query's options on its errors, functions and all, which cannot be copied.
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) fields[key] = value;
  }
  return { message: error.message, name: error.name, stack: error.stack, fields };
}

// Rows leave as arrays under one list of column names, and json/jsonb values as their
// text: copying objects between threads, key by key, and parsing JSON here cost this
// thread (the database's) more than the main thread's JSON.parse of one string.
const JSON_TYPES = new Set([114, 3802]);
const asText = (value) => value;
const QUERY_OPTIONS = { rowMode: 'array', parsers: { 114: asText, 3802: asText } };

function rowsOf(result) {
  const columns = [];
  const jsonColumns = [];
  result.fields.forEach((field, i) => {
    columns.push(field.name);
    if (JSON_TYPES.has(field.dataTypeID)) jsonColumns.push(i);
  });
  return { columns, jsonColumns, values: result.rows, rowCount: result.affectedRows ?? result.rows.length };
}

let db;
const transactions = new Map(); // txId -> { ready, last, finish, settled }
const listeners = new Map(); // listenId -> unsubscribe

// Answers leave in batches: one message for every answer ready in this turn of the
// worker's loop, unless the oldest has waited a millisecond already.
let outbox = [];
let oldestAt = 0;
let flushScheduled = false;
function post(reply) {
  if (outbox.length === 0) oldestAt = performance.now();
  outbox.push(reply);
  if (performance.now() - oldestAt >= 1) return flush();
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}
function flush() {
  flushScheduled = false;
  if (outbox.length === 0) return;
  const replies = outbox;
  outbox = [];
  try {
    parentPort.postMessage(replies);
  } catch {
    // One that cannot be cloned: the others still go.
    for (const reply of replies) postOne(reply);
  }
}
function postOne(reply) {
  try {
    parentPort.postMessage([reply]);
  } catch (error) {
    // Rows and errors' fields clone (see above); should one not, its request fails rather than waits.
    parentPort.postMessage([{ id: reply.id, ok: false, error: { ...wireError(error), fields: {} } }]);
  }
}

function answer(id, value) {
  post({ id, ok: true, value });
}

function fail(id, error) {
  post({ id, ok: false, error: wireError(error) });
}

const ignore = () => undefined;

/**
 * Opens PGlite's transaction() and holds it until 'end'. Its statements may arrive before
 * BEGIN has run: each waits for the transaction to be open and for the statement before
 * it, so they run in the order sent; if BEGIN (or the first statement) fails, they and
 * 'end' fail with its error.
 */
function begin({ id, firstStatement }) {
  let opened;
  let refused;
  const ready = new Promise((resolve, reject) => {
    opened = resolve;
    refused = reject;
  });
  ready.catch(ignore);
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const settled = db.transaction(async (tx) => {
    if (firstStatement !== undefined) await tx.exec(firstStatement);
    opened(tx);
    answer(id, null);
    if (!(await finished)) throw ROLLBACK;
  });
  settled.then(ignore, (error) => {
    refused(error);
    // Before BEGIN answered: the transaction never opened.
    if (error !== ROLLBACK) ready.then(ignore, () => fail(id, error));
  });
  transactions.set(id, { ready, last: ready.then(ignore, ignore), finish, settled });
}

function transactionOf(txId) {
  const open = transactions.get(txId);
  if (open === undefined) throw new Error('the transaction is no longer open');
  return open;
}

function txQuery({ id, txId, text, params }) {
  const open = transactionOf(txId);
  const run = open.last.then(() => open.ready).then((tx) => tx.query(text, params, QUERY_OPTIONS));
  open.last = run.then(ignore, ignore);
  run.then((result) => answer(id, rowsOf(result)), (error) => fail(id, error));
}

function end({ id, txId, commit }) {
  const open = transactionOf(txId);
  transactions.delete(txId);
  open.last
    .then(() => {
      open.finish(commit);
      return open.settled;
    })
    .then(
      () => answer(id, null),
      (error) => (error === ROLLBACK ? answer(id, null) : fail(id, error)),
    );
}

async function handle(message) {
  switch (message.op) {
    case 'query':
      return rowsOf(await db.query(message.text, message.params, QUERY_OPTIONS));
    case 'exec':
      await db.exec(message.script);
      return null;
    case 'listen': {
      const listenId = message.id;
      listeners.set(listenId, await db.listen(message.channel, (payload) => post({ listenId, payload })));
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

const inTransaction = { begin, txQuery, end };

// Requests come in batches (an array), each started in the order sent.
parentPort.on('message', (messages) => {
  for (const message of messages) {
    const step = inTransaction[message.op];
    if (step === undefined) {
      handle(message).then((value) => answer(message.id, value), (error) => fail(message.id, error));
      continue;
    }
    try {
      step(message);
    } catch (error) {
      fail(message.id, error);
    }
  }
});

(async () => {
  const startParams = [...PGlite.defaultStartParams, ...workerData.settings.flatMap((setting) => ['-c', setting])];
  db = workerData.dataDir === null ? new PGlite({ startParams }) : new PGlite(workerData.dataDir, { startParams });
  await db.waitReady;
})().then(() => answer(0, null), (error) => fail(0, error));
`;
