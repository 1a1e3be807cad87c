/**
 * Send-to-visible latency over HTTP, under light load.
 *
 *   npm run bench:latency          (builds, then runs dist/bench/latency.js)
 *
 * Starts the built server (dist/src/main.js) in a process of its own, on the local
 * PostgreSQL at 127.0.0.1:5432 when one answers (a fresh database, dropped at the
 * end; BENCH_DATABASE_URL picks another server), else on embedded PGlite in a
 * temporary directory. Then a few borrower/lender pairs talk at a steady rate, and for
 * every message it measures the time from sending the POST until the message is
 * visible to BOTH participants, in their history (GET .../messages) and in their room
 * list (GET /api/rooms, as lastMessage). The checks start when the POST is answered
 * and are repeated until they pass, so the figure is what a client experiences:
 * the send, then one round of reads. Only loopback traffic; it stops by itself.
 *
 * Settings (environment): BENCH_ROOMS (5), BENCH_MESSAGES (300), BENCH_RATE (20 a second).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';

const ROOMS = Number(process.env.BENCH_ROOMS ?? 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const JWT_SECRET = randomBytes(32).toString('hex');
const INTERNAL_TOKEN = randomBytes(16).toString('hex');

interface Store {
  kind: string;
  env: Record<string, string>;
  dispose(): Promise<void>;
}

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function chooseStore(): Promise<Store> {
  try {
    const name = `chat_bench_${randomUUID().replaceAll('-', '')}`;
    await admin((client) => client.query(`CREATE DATABASE ${name}`));
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    return {
      kind: `PostgreSQL (${url.host})`,
      env: { DATABASE_URL: url.toString() },
      dispose: () => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
    };
  } catch {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'chat-bench-'));
    return { kind: 'PGlite (embedded, no PostgreSQL server answered)', env: { DATA_DIR: dataDir }, dispose: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
}

function startServer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const main = path.resolve(__dirname, '../src/main.js');
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', JWT_SECRET, INTERNAL_API_TOKEN: INTERNAL_TOKEN, SEND_RATE_LIMIT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number; level?: number };
          if (entry.msg === 'chat service listening' && typeof entry.port === 'number') resolve({ url: `http://127.0.0.1:${entry.port}`, child });
          else if ((entry.level ?? 0) >= 50) process.stderr.write(`${line}\n`);
        } catch {
          // not a log line
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
  });
}

const tokenFor = (userId: string): string => jwt.sign({ sub: userId }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 3600 });

async function request(url: string, method: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : JSON.parse(text) };
}

interface Pair {
  roomId: string;
  lender: string;
  borrower: string;
}

/** True once `userId` sees message `seq` of the room in its history and as the room's lastMessage (or later) in its list. */
async function visibleTo(base: string, pair: Pair, userId: string, seq: number): Promise<boolean> {
  const token = tokenFor(userId);
  const [history, list] = await Promise.all([
    request(`${base}/api/rooms/${pair.roomId}/messages?after=${seq - 1}&limit=1`, 'GET', token),
    request(`${base}/api/rooms?limit=100`, 'GET', token),
  ]);
  const messages = (history.json as { messages?: Array<{ seq: number }> }).messages ?? [];
  const rooms = (list.json as { rooms?: Array<{ roomId: string; lastMessage: { seq: number } | null }> }).rooms ?? [];
  const room = rooms.find((r) => r.roomId === pair.roomId);
  return messages[0]?.seq === seq && room?.lastMessage !== null && room !== undefined && (room.lastMessage?.seq ?? 0) >= seq;
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] as number;
}

function summary(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (ms: number) => `${ms.toFixed(1)} ms`.padStart(10);
  return `${name.padEnd(44)}${f(percentile(sorted, 50))}${f(percentile(sorted, 95))}${f(percentile(sorted, 99))}${f(sorted.at(-1) ?? 0)}`;
}

async function main(): Promise<void> {
  const store = await chooseStore();
  const { url, child } = await startServer(store.env);
  try {
    const run = randomUUID().slice(0, 8);
    const pairs: Pair[] = [];
    for (let i = 0; i < ROOMS; i += 1) {
      const lender = `lender-${run}-${i % 2}`;
      const borrower = `borrower-${run}-${i}`;
      const postId = `bench-${run}-${i}`;
      const put = await request(`${url}/api/internal/posts/${postId}`, 'PUT', INTERNAL_TOKEN, { ownerId: lender, title: `Item ${i}` });
      if (put.status !== 200) throw new Error(`upsert post: ${put.status}`);
      const opened = await request(`${url}/api/rooms`, 'POST', tokenFor(borrower), { postId });
      if (opened.status !== 201) throw new Error(`open room: ${opened.status}`);
      pairs.push({ roomId: (opened.json as { room: { roomId: string } }).room.roomId, lender, borrower });
    }

    const sendTimes: number[] = [];
    const visibleTimes: number[] = [];
    let failures = 0;
    const interval = 1000 / RATE;
    const started = performance.now();
    const inFlight: Array<Promise<void>> = [];
    for (let n = 0; n < MESSAGES; n += 1) {
      // A steady rate: message n leaves at started + n × interval, whatever the answers do.
      const due = started + n * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const pair = pairs[n % pairs.length] as Pair;
      const sender = n % 3 === 2 ? pair.lender : pair.borrower;
      inFlight.push(
        (async () => {
          const t0 = performance.now();
          const sent = await request(`${url}/api/rooms/${pair.roomId}/messages`, 'POST', tokenFor(sender), { clientMessageId: randomUUID(), body: `message ${n}` });
          const t1 = performance.now();
          if (sent.status !== 201) {
            failures += 1;
            return;
          }
          const seq = (sent.json as { message: { seq: number } }).message.seq;
          const deadline = t1 + 10_000;
          for (;;) {
            const both = await Promise.all([visibleTo(url, pair, pair.lender, seq), visibleTo(url, pair, pair.borrower, seq)]);
            if (both.every(Boolean)) break;
            if (performance.now() > deadline) {
              failures += 1;
              return;
            }
          }
          sendTimes.push(t1 - t0);
          visibleTimes.push(performance.now() - t0);
        })(),
      );
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - started) / 1000;

    process.stdout.write(
      [
        `rental-chat send-to-visible latency over HTTP`,
        `store: ${store.kind}; node ${process.version}; ${ROOMS} rooms; ${MESSAGES} messages in ${seconds.toFixed(1)} s (${(MESSAGES / seconds).toFixed(1)}/s target ${RATE}/s); failures: ${failures}`,
        `${''.padEnd(44)}${'p50'.padStart(10)}${'p95'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}`,
        summary('POST /messages answered (201)', sendTimes),
        summary('visible to both: history + room list', visibleTimes),
        '',
      ].join('\n'),
    );
    if (failures > 0) process.exitCode = 1;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    await store.dispose();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
