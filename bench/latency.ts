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
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { chooseStore, INTERNAL_TOKEN, request, startServer, tokenFor } from './support';

const ROOMS = Number(process.env.BENCH_ROOMS ?? 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300);
const RATE = Number(process.env.BENCH_RATE ?? 20);

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
  const { url, stop } = await startServer(store.env);
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
        `store: ${store.description}; node ${process.version}; ${ROOMS} rooms; ${MESSAGES} messages in ${seconds.toFixed(1)} s (${(MESSAGES / seconds).toFixed(1)}/s target ${RATE}/s); failures: ${failures}`,
        `${''.padEnd(44)}${'p50'.padStart(10)}${'p95'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}`,
        summary('POST /messages answered (201)', sendTimes),
        summary('visible to both: history + room list', visibleTimes),
        '',
      ].join('\n'),
    );
    if (failures > 0) process.exitCode = 1;
  } finally {
    await stop();
    await store.dispose();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
