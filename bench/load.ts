/**
 * Load benchmark of the WebSocket write and delivery path.
 *
 *   npm run bench:load -- [--rate 2000 | --step] [--pairs 100] [--duration 10]
 *                         [--store postgres|pglite] [--processes 1] [--url http://…]
 *                         [--send-limit default|off]
 *
 * Starts the built server (dist/src/main.js) on a fresh database (or targets --url,
 * with BENCH_JWT_SECRET and BENCH_INTERNAL_TOKEN set to that server's secrets), opens
 * one WebSocket per user for N lender/borrower pairs, and offers `send` frames at a
 * fixed rate round-robin over the pairs (both sides of each pair take turns). With
 * --step the rate grows step by step (×1.5) until a step is not held, and the
 * highest held rate is reported.
 *
 * The server runs as deployed: with its default send budget (SEND_RATE_LIMIT 10 a
 * second per user), and every user paced under it (at most 8 a second), so there are
 * at least rate / 16 pairs (with --step: max-rate / 16). `--send-limit off` starts the
 * server with SEND_RATE_LIMIT=0 instead, as the benchmarks before did.
 *
 * For every message it checks what a user would notice: acked once, delivered once
 * to the other participant, each connection seeing the room's seqs in order with no
 * gap and no repeat. It reports send→ack and send→delivery percentiles, read-model
 * lag (ack → visible in GET history, sampled), acked/delivered/refused per second,
 * the CPU used by the server, PostgreSQL and itself, and the events each server process
 * read from the event store's log per second (its `chat_events_read_total`). A human
 * summary, then one JSON line last. Only loopback traffic; every step is bounded in time.
 */
import { randomUUID } from 'node:crypto';
import { performance, createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { chooseStore, cpuSecondsOf, INTERNAL_TOKEN, postgresCpuSeconds, request, startServer, tokenFor, type BenchServer } from './support';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    step: { type: 'boolean', default: false },
    'step-factor': { type: 'string', default: '1.5' },
    'max-rate': { type: 'string', default: '8000' },
    'send-limit': { type: 'string', default: 'default' },
    pairs: { type: 'string', default: '100' },
    duration: { type: 'string', default: '10' },
    store: { type: 'string', default: 'postgres' },
    processes: { type: 'string', default: '1' },
    url: { type: 'string' },
    'server-pid': { type: 'string' },
    'body-bytes': { type: 'string', default: '60' },
    'lag-samples': { type: 'string', default: '20' },
    'held-p99-ms': { type: 'string', default: '100' },
  },
});

/** A person's pace, under the default send budget of 10 a second. */
const PACED_PER_USER = 8;
const SEND_LIMIT_ON = args['send-limit'] !== 'off';
const PEAK_RATE = args.step ? Number(args['max-rate']) : Number(args.rate);
const PAIRS = SEND_LIMIT_ON ? Math.max(Number(args.pairs), Math.ceil(PEAK_RATE / (2 * PACED_PER_USER))) : Number(args.pairs);
const DURATION_S = Number(args.duration);
const PROCESSES = Number(args.processes);
const HELD_P99_MS = Number(args['held-p99-ms']);
const BODY = 'x'.repeat(Math.max(1, Number(args['body-bytes']) - 10));
/** How long after the last send a step waits for outstanding acks and deliveries. */
const DRAIN_MS = 10_000;

interface Pair {
  roomId: string;
  lender: User;
  borrower: User;
}

interface User {
  id: string;
  socket: WebSocket;
  /** Per room, the last seq this connection was given (as ack or message). */
  lastSeq: Map<string, number>;
}

interface InFlight {
  t0: number;
  roomId: string;
  acked: boolean;
  delivered: boolean;
}

class StepStats {
  readonly ack = createHistogram();
  readonly delivery = createHistogram();
  readonly refusal = createHistogram();
  readonly lag = createHistogram();
  offered = 0;
  acked = 0;
  delivered = 0;
  refused = 0;
  errors = 0;
  duplicates = 0;
  gaps = 0;
  reordered = 0;
  lost = 0;
  undelivered = 0;
  firstError = '';
}

const ms = (h: RecordableHistogram, p: number): number => (h.count === 0 ? 0 : Number(h.percentile(p)) / 1000);
const record = (h: RecordableHistogram, millis: number): void => h.record(Math.max(1, Math.round(millis * 1000)));

async function main(): Promise<void> {
  const store = args.url === undefined ? await chooseStore(args.store === 'pglite' ? 'pglite' : 'postgres') : null;
  const servers: BenchServer[] = [];
  const bases: string[] = [];
  if (args.url !== undefined) bases.push(args.url);
  else {
    for (let i = 0; i < (store?.kind === 'pglite' ? 1 : PROCESSES); i += 1) {
      const server = await startServer({ ...(store?.env ?? {}), SEND_RATE_LIMIT: SEND_LIMIT_ON ? undefined : '0' });
      servers.push(server);
      bases.push(server.url);
    }
  }
  const base = bases[0] as string;
  const sockets: WebSocket[] = [];
  try {
    const run = randomUUID().slice(0, 8);
    const inflight = new Map<string, InFlight>();
    let stats = new StepStats();

    const observeSeq = (user: User, roomId: string, seq: number): void => {
      const last = user.lastSeq.get(roomId);
      if (last !== undefined) {
        if (seq === last) stats.duplicates += 1;
        else if (seq < last) stats.reordered += 1;
        else if (seq > last + 1) stats.gaps += 1;
      }
      if (last === undefined || seq > last) user.lastSeq.set(roomId, seq);
    };

    const connect = (userId: string, index: number): Promise<User> =>
      new Promise((resolve, reject) => {
        const url = `${(bases[index % bases.length] as string).replace(/^http/, 'ws')}/chat`;
        const socket = new WebSocket(url, ['chat.v1', tokenFor(userId)]);
        sockets.push(socket);
        const user: User = { id: userId, socket, lastSeq: new Map() };
        socket.on('message', (raw) => {
          const frame = JSON.parse(raw.toString()) as {
            type: string;
            clientMessageId?: string;
            message?: { roomId: string; seq: number; clientMessageId: string };
            code?: string;
            ref?: string;
          };
          const now = performance.now();
          if (frame.type === 'pong') resolve(user);
          else if (frame.type === 'ack' && frame.message !== undefined) {
            observeSeq(user, frame.message.roomId, frame.message.seq);
            const entry = inflight.get(frame.message.clientMessageId);
            if (entry === undefined || entry.acked) {
              stats.duplicates += entry === undefined ? 0 : 1;
              return;
            }
            entry.acked = true;
            stats.acked += 1;
            record(stats.ack, now - entry.t0);
            sampleLag(frame.message.roomId, frame.message.seq, userId, now);
            if (entry.delivered) inflight.delete(frame.message.clientMessageId);
          } else if (frame.type === 'message' && frame.message !== undefined) {
            observeSeq(user, frame.message.roomId, frame.message.seq);
            const entry = inflight.get(frame.message.clientMessageId);
            if (entry === undefined || entry.delivered) return;
            entry.delivered = true;
            stats.delivered += 1;
            record(stats.delivery, now - entry.t0);
            if (entry.acked) inflight.delete(frame.message.clientMessageId);
          } else if (frame.type === 'error') {
            const entry = frame.ref === undefined ? undefined : inflight.get(frame.ref);
            if (entry !== undefined && (frame.code === 'rate_limited' || frame.code === 'unavailable')) {
              stats.refused += 1;
              record(stats.refusal, now - entry.t0);
              inflight.delete(frame.ref as string);
            } else {
              stats.errors += 1;
              stats.firstError ||= JSON.stringify(frame);
            }
          }
        });
        socket.once('open', () => socket.send(JSON.stringify({ type: 'ping' })));
        socket.once('error', reject);
        socket.on('close', (code) => {
          if (code !== 1000 && code !== 1001 && code !== 1005) {
            stats.errors += 1;
            stats.firstError ||= `socket of ${userId} closed with ${code}`;
          }
        });
      });

    // Read-model lag: for a sample of acks, poll the history until the message is there.
    let lagBudget = 0;
    let lagPolls = 0;
    const lagSamplesPerSecond = Number(args['lag-samples']);
    const sampleLag = (roomId: string, seq: number, userId: string, ackedAt: number): void => {
      if (lagBudget < 1 || lagPolls >= 3) return;
      lagBudget -= 1;
      lagPolls += 1;
      const target = stats;
      void (async () => {
        try {
          const deadline = ackedAt + 10_000;
          while (performance.now() < deadline) {
            const page = await request(`${base}/api/rooms/${roomId}/messages?after=${seq - 1}&limit=1`, 'GET', tokenFor(userId));
            const found = (page.json as { messages?: Array<{ seq: number }> }).messages?.[0]?.seq === seq;
            if (found) {
              record(target.lag, performance.now() - ackedAt);
              return;
            }
            // Not faster: the polls themselves load the server under test.
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        } finally {
          lagPolls -= 1;
        }
      })();
    };

    // Rooms: one post per pair, opened over HTTP by its borrower.
    const pairs: Pair[] = [];
    for (let i = 0; i < PAIRS; i += 1) {
      const lenderId = `lender-${run}-${i}`;
      const borrowerId = `borrower-${run}-${i}`;
      const postId = `bench-${run}-${i}`;
      const put = await request(`${base}/api/internal/posts/${postId}`, 'PUT', INTERNAL_TOKEN, { ownerId: lenderId, title: `Item ${i}` });
      if (put.status !== 200) throw new Error(`upsert post: HTTP ${put.status}`);
      const opened = await request(`${base}/api/rooms`, 'POST', tokenFor(borrowerId), { postId });
      if (opened.status !== 201) throw new Error(`open room: HTTP ${opened.status}`);
      const roomId = (opened.json as { room: { roomId: string } }).room.roomId;
      const [lender, borrower] = await Promise.all([connect(lenderId, 2 * i), connect(borrowerId, 2 * i + 1)]);
      pairs.push({ roomId, lender, borrower });
    }

    const runStep = async (rate: number): Promise<StepResult> => {
      stats = new StepStats();
      const serverCpu = () => servers.reduce((t, s) => t + cpuSecondsOf(s.child.pid ?? 0), 0) + (args['server-pid'] !== undefined ? cpuSecondsOf(Number(args['server-pid'])) : 0);
      const cpuBefore = { server: serverCpu(), postgres: postgresCpuSeconds(), self: process.cpuUsage() };
      const readsBefore = await Promise.all(bases.map(eventsReadBy));
      const started = performance.now();
      let sent = 0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const elapsed = performance.now() - started;
          lagBudget = Math.min(lagBudget + lagSamplesPerSecond / 200, lagSamplesPerSecond);
          const due = Math.min(Math.floor((rate * Math.min(elapsed, DURATION_S * 1000)) / 1000), Math.round(rate * DURATION_S));
          for (; sent < due; sent += 1) {
            const pair = pairs[sent % pairs.length] as Pair;
            const sender = Math.floor(sent / pairs.length) % 2 === 0 ? pair.borrower : pair.lender;
            const clientMessageId = randomUUID();
            inflight.set(clientMessageId, { t0: performance.now(), roomId: pair.roomId, acked: false, delivered: false });
            stats.offered += 1;
            sender.socket.send(JSON.stringify({ type: 'send', roomId: pair.roomId, clientMessageId, body: `${BODY}${sent}` }));
          }
          if (elapsed >= DURATION_S * 1000) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
      });
      const sendSeconds = (performance.now() - started) / 1000;
      const drainDeadline = performance.now() + DRAIN_MS;
      while (inflight.size > 0 && performance.now() < drainDeadline) await new Promise((resolve) => setTimeout(resolve, 20));
      const wall = (performance.now() - started) / 1000;
      for (const entry of inflight.values()) {
        if (!entry.acked) stats.lost += 1;
        if (!entry.delivered) stats.undelivered += 1;
      }
      inflight.clear();
      while (lagPolls > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      const self = process.cpuUsage(cpuBefore.self);
      const cpu = {
        server: (serverCpu() - cpuBefore.server) / wall,
        postgres: store === null || store.kind === 'postgres' ? (postgresCpuSeconds() - cpuBefore.postgres) / wall : 0,
        generator: (self.user + self.system) / 1e6 / wall,
      };
      const readsAfter = await Promise.all(bases.map(eventsReadBy));
      const eventsReadPerSecond = readsAfter.map((after, i) => (after === null || readsBefore[i] == null ? null : (after - (readsBefore[i] as number)) / wall));
      const s = stats;
      const held =
        s.lost === 0 && s.undelivered === 0 && s.duplicates === 0 && s.gaps === 0 && s.reordered === 0 && s.errors === 0 &&
        s.refused === 0 && s.acked >= 0.98 * s.offered && ms(s.ack, 99) <= HELD_P99_MS;
      return {
        rate,
        held,
        offered: s.offered,
        acked: s.acked,
        delivered: s.delivered,
        refused: s.refused,
        ackedPerSecond: s.acked / sendSeconds,
        deliveredPerSecond: s.delivered / sendSeconds,
        ackMs: { p50: ms(s.ack, 50), p95: ms(s.ack, 95), p99: ms(s.ack, 99), max: s.ack.count === 0 ? 0 : s.ack.max / 1000 },
        deliveryMs: { p50: ms(s.delivery, 50), p95: ms(s.delivery, 95), p99: ms(s.delivery, 99), max: s.delivery.count === 0 ? 0 : s.delivery.max / 1000 },
        refusalMs: { p50: ms(s.refusal, 50), p99: ms(s.refusal, 99) },
        readModelLagMs: { samples: s.lag.count, p50: ms(s.lag, 50), p99: ms(s.lag, 99), max: s.lag.count === 0 ? 0 : s.lag.max / 1000 },
        check: { lost: s.lost, undelivered: s.undelivered, duplicates: s.duplicates, gaps: s.gaps, reordered: s.reordered, errors: s.errors, firstError: s.firstError },
        cpuCores: cpu,
        eventsReadPerSecond,
      };
    };

    const results: StepResult[] = [];
    const header = `rental-chat load: ${store?.description ?? base}; ${servers.length || 'external'} server process(es); ${PAIRS} pairs (${2 * PAIRS} sockets); send limit ${SEND_LIMIT_ON ? 'as deployed, senders paced under it' : 'off'}; ${DURATION_S} s a step; node ${process.version}`;
    process.stdout.write(`${header}\n`);
    let rate = Number(args.rate);
    for (;;) {
      const result = await runStep(rate);
      results.push(result);
      process.stdout.write(`${describe(result)}\n`);
      if (!args.step || !result.held || rate >= Number(args['max-rate'])) break;
      rate = Math.round(rate * Number(args['step-factor']));
    }
    const highestHeld = results.filter((r) => r.held).reduce((best, r) => Math.max(best, r.rate), 0);
    process.stdout.write(`highest rate held (p99 ack ≤ ${HELD_P99_MS} ms, nothing lost, refused or out of order): ${highestHeld}/s\n`);
    process.stdout.write(`${JSON.stringify({ bench: 'load', store: store?.kind ?? 'external', processes: servers.length, pairs: PAIRS, highestHeld, steps: results })}\n`);
    if (results.some((r) => r.check.lost > 0 || r.check.duplicates > 0 || r.check.gaps > 0 || r.check.reordered > 0)) process.exitCode = 1;
  } finally {
    for (const socket of sockets) socket.terminate();
    await Promise.all(servers.map((s) => s.stop()));
    await store?.dispose();
  }
}

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

interface StepResult {
  rate: number;
  held: boolean;
  offered: number;
  acked: number;
  delivered: number;
  refused: number;
  ackedPerSecond: number;
  deliveredPerSecond: number;
  ackMs: Percentiles;
  deliveryMs: Percentiles;
  refusalMs: { p50: number; p99: number };
  readModelLagMs: { samples: number; p50: number; p99: number; max: number };
  check: { lost: number; undelivered: number; duplicates: number; gaps: number; reordered: number; errors: number; firstError: string };
  cpuCores: { server: number; postgres: number; generator: number };
  /** Per server process, events it read from the store's log a second (null: no such metric). */
  eventsReadPerSecond: Array<number | null>;
}

/** A server's `chat_events_read_total` so far (null if it has no such metric, e.g. another design). */
async function eventsReadBy(base: string): Promise<number | null> {
  try {
    const response = await fetch(`${base}/metrics`);
    if (!response.ok) return null;
    const text = await response.text();
    const lines = text.split('\n').filter((line) => line.startsWith('chat_events_read_total'));
    return lines.length === 0 ? null : lines.reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  } catch {
    return null;
  }
}

function describe(r: StepResult): string {
  const f = (n: number): string => n.toFixed(1);
  const c = r.check;
  return [
    `offered ${r.rate}/s: ${r.held ? 'HELD' : 'not held'}; acked ${Math.round(r.ackedPerSecond)}/s, delivered ${Math.round(r.deliveredPerSecond)}/s, refused ${r.refused}`,
    `  send→ack      p50 ${f(r.ackMs.p50)}  p95 ${f(r.ackMs.p95)}  p99 ${f(r.ackMs.p99)}  max ${f(r.ackMs.max)} ms`,
    `  send→delivery p50 ${f(r.deliveryMs.p50)}  p95 ${f(r.deliveryMs.p95)}  p99 ${f(r.deliveryMs.p99)}  max ${f(r.deliveryMs.max)} ms`,
    `  read-model lag (ack → in GET history, ${r.readModelLagMs.samples} samples) p50 ${f(r.readModelLagMs.p50)}  p99 ${f(r.readModelLagMs.p99)} ms`,
    ...(r.refused > 0 ? [`  refusals answered in p50 ${f(r.refusalMs.p50)}  p99 ${f(r.refusalMs.p99)} ms`] : []),
    `  checks: lost ${c.lost}, undelivered ${c.undelivered}, duplicates ${c.duplicates}, gaps ${c.gaps}, out of order ${c.reordered}, errors ${c.errors}${c.firstError ? ` (first: ${c.firstError})` : ''}`,
    `  CPU (cores): server ${r.cpuCores.server.toFixed(2)}, PostgreSQL ${r.cpuCores.postgres.toFixed(2)}, load generator ${r.cpuCores.generator.toFixed(2)}`,
    ...(r.eventsReadPerSecond.some((n) => n !== null)
      ? [`  events read from the log per second, per server process: ${r.eventsReadPerSecond.map((n) => (n === null ? '—' : Math.round(n))).join(', ')}`]
      : []),
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
