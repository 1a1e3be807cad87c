/**
 * Does a room's length cost anything? A send to a room of 100,000 messages against a
 * send to a new room.
 *
 *   npm run bench:long-room -- [--messages 100000] [--sends 300] [--store postgres|pglite]
 *
 * Opens two rooms on a fresh database, writes --messages messages into one of them
 * straight through the event store (the same events, hash chain and all, the service
 * writes), restarts the server so nothing of either room is cached, then over one
 * WebSocket per room sends --sends messages one after the other and reports send→ack:
 * the first (cold) send on its own, then p50/p99 of the rest, per room.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { fillRoom, openRoom, type BenchRoom } from './seedRooms';
import { chooseStore, startServer, tokenFor, type BenchServer } from './support';
import { summarize, timedSends } from './timedSends';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    sends: { type: 'string', default: '300' },
    store: { type: 'string', default: 'postgres' },
  },
});

async function measure(base: string, room: BenchRoom, sends: number) {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/chat`, ['chat.v1', tokenFor(room.borrower)]);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const [first = 0, ...rest] = await timedSends(socket, room.roomId, sends);
  socket.close();
  const { p50Ms, p99Ms } = summarize(rest);
  return { firstMs: first, p50Ms, p99Ms };
}

async function main(): Promise<void> {
  const messages = Number(args.messages);
  const store = await chooseStore(args.store === 'pglite' ? 'pglite' : 'postgres');
  let server: BenchServer | null = await startServer(store.env);
  try {
    const [long, fresh] = [await openRoom(server.url, 'long'), await openRoom(server.url, 'new')];
    await server.stop();
    server = null;
    const started = performance.now();
    await fillRoom(store, long, messages);
    process.stdout.write(`wrote ${messages} messages into one room in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    // A fresh process: nothing cached; its projection catches up with the messages first.
    server = await startServer(store.env);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const sends = Number(args.sends);
    const results = { longRoom: await measure(server.url, long, sends), newRoom: await measure(server.url, fresh, sends) };
    const f = (r: { firstMs: number; p50Ms: number; p99Ms: number }) => `first (cold) ${r.firstMs.toFixed(1)} ms, then p50 ${r.p50Ms.toFixed(2)} p99 ${r.p99Ms.toFixed(2)} ms`;
    process.stdout.write(`room of ${messages} messages: ${f(results.longRoom)}\nnew room:               ${f(results.newRoom)}\n`);
    process.stdout.write(`${JSON.stringify({ bench: 'long-room', store: store.kind, messages, sends, ...results })}\n`);
  } finally {
    await server?.stop();
    await store.dispose();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
