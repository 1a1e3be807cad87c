/**
 * Can one user's replays slow everyone else down? A user keeps asking for the whole
 * history of a long room from several connections at once (each waiting for its
 * `resumed` before asking again, so inside every per-connection limit), while another
 * pair sends messages one after the other; reports that pair's send→ack with and
 * without the replays.
 *
 *   npm run bench:replay-fairness -- [--messages 1500] [--replayers 3] [--sends 300]
 *                                    [--resume-rate-limit 0] [--store postgres|pglite]
 *
 * `--resume-rate-limit 0` (the default here) switches the per-user resume budget off,
 * so what is measured is the scheduling of replays, not the budget refusing them.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { fillRoom, openRoom, type BenchRoom } from './seedRooms';
import { chooseStore, startServer, tokenFor, type BenchServer } from './support';
import { summarize, timedSends } from './timedSends';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1500' },
    replayers: { type: 'string', default: '3' },
    sends: { type: 'string', default: '300' },
    'resume-rate-limit': { type: 'string', default: '0' },
    store: { type: 'string', default: 'postgres' },
  },
});

interface Frame {
  type: string;
  clientMessageId?: string;
  ref?: string;
  code?: string;
  lastSeq?: number;
}

async function connect(base: string, userId: string): Promise<WebSocket> {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/chat`, ['chat.v1', tokenFor(userId)]);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return socket;
}

/** One connection asking for the room's whole history again and again until stopped; counts what it got. */
function replayForever(socket: WebSocket, room: BenchRoom, expected: number) {
  const tally = { resumes: 0, messages: 0, refused: 0, short: 0 };
  let stopped = false;
  let inThisReplay = 0;
  const ask = (): void => {
    if (stopped) return;
    inThisReplay = 0;
    socket.send(JSON.stringify({ type: 'resume', roomId: room.roomId, afterSeq: 0 }));
  };
  socket.on('message', (raw) => {
    const frame = JSON.parse(raw.toString()) as Frame;
    if (frame.type === 'message') {
      inThisReplay += 1;
      tally.messages += 1;
    } else if (frame.type === 'resumed') {
      tally.resumes += 1;
      if (inThisReplay < expected) tally.short += 1;
      ask();
    } else if (frame.type === 'error' && frame.ref === 'resume') {
      tally.refused += 1;
      setTimeout(ask, 50);
    }
  });
  ask();
  return {
    tally,
    stop: () => {
      stopped = true;
    },
  };
}

/** The other pair: one message every 10 ms (a person's pace, not a flood), each waiting for its ack. */
async function sendOneByOne(socket: WebSocket, room: BenchRoom, count: number) {
  return summarize(await timedSends(socket, room.roomId, count, 10));
}

async function main(): Promise<void> {
  const messages = Number(args.messages);
  const replayers = Number(args.replayers);
  const sends = Number(args.sends);
  const store = await chooseStore(args.store === 'pglite' ? 'pglite' : 'postgres');
  const env = { ...store.env, RESUME_RATE_LIMIT: args['resume-rate-limit'] };
  let server: BenchServer | null = await startServer(env);
  try {
    const [long, other] = [await openRoom(server.url, 'replayed'), await openRoom(server.url, 'other')];
    await server.stop();
    server = null;
    await fillRoom(store, long, messages);
    server = await startServer(env);
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const quiet = await sendOneByOne(await connect(server.url, other.borrower), other, sends);

    const sockets = await Promise.all(Array.from({ length: replayers }, () => connect(server!.url, long.borrower)));
    const loops = sockets.map((socket) => replayForever(socket, long, messages));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const started = performance.now();
    const busy = await sendOneByOne(await connect(server.url, other.borrower), other, sends);
    const seconds = (performance.now() - started) / 1000;
    for (const loop of loops) loop.stop();
    const total = loops.reduce(
      (sum, { tally }) => ({ resumes: sum.resumes + tally.resumes, messages: sum.messages + tally.messages, refused: sum.refused + tally.refused, short: sum.short + tally.short }),
      { resumes: 0, messages: 0, refused: 0, short: 0 },
    );
    for (const socket of sockets) socket.close();

    const f = (r: { p50Ms: number; p99Ms: number; worstMs: number }) => `p50 ${r.p50Ms.toFixed(1)} p99 ${r.p99Ms.toFixed(1)} worst ${r.worstMs.toFixed(1)} ms`;
    process.stdout.write(`other pair's send→ack, quiet server:      ${f(quiet)}\n`);
    process.stdout.write(`other pair's send→ack, ${replayers} replayers busy: ${f(busy)}\n`);
    process.stdout.write(
      `meanwhile: ${total.resumes} whole replays of ${messages} messages (${(total.messages / seconds).toFixed(0)} messages/s replayed), ${total.refused} refused, ${total.short} short\n`,
    );
    process.stdout.write(`${JSON.stringify({ bench: 'replay-fairness', store: store.kind, messages, replayers, sends, quiet, busy, replays: { ...total, seconds } })}\n`);
  } finally {
    await server?.stop();
    await store.dispose();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
