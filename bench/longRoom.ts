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
import { randomUUID } from 'node:crypto';
import { createHistogram, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { eventHash, HASH_VERSION } from '../src/application/audit/hashChain';
import type { EventToAppend } from '../src/application/ports/eventStore';
import { sentMessageEventId } from '../src/application/room/sentMessageEventId';
import { roomStreamName } from '../src/domain/room';
import { PostgresEventStore } from '../src/infrastructure/eventStore/postgresEventStore';
import { PgDatabase } from '../src/infrastructure/sql/pgDatabase';
import { PgliteDatabase } from '../src/infrastructure/sql/pgliteDatabase';
import { chooseStore, INTERNAL_TOKEN, request, startServer, tokenFor, type BenchServer } from './support';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    sends: { type: 'string', default: '300' },
    store: { type: 'string', default: 'postgres' },
  },
});

async function openRoom(base: string, label: string): Promise<{ roomId: string; borrower: string }> {
  const postId = `long-${label}-${randomUUID().slice(0, 8)}`;
  const lender = `lender-${postId}`;
  const borrower = `borrower-${postId}`;
  await request(`${base}/api/internal/posts/${postId}`, 'PUT', INTERNAL_TOKEN, { ownerId: lender, title: 'Item' });
  const opened = await request(`${base}/api/rooms`, 'POST', tokenFor(borrower), { postId });
  return { roomId: (opened.json as { room: { roomId: string } }).room.roomId, borrower };
}

/** Writes `count` messages into the room, in batches, exactly as the service would have. */
async function fill(store: PostgresEventStore, roomId: string, borrower: string, count: number): Promise<void> {
  const stream = roomStreamName(roomId);
  const [last] = (await store.readStream(stream)).slice(-1);
  if (last === undefined) throw new Error('the room has no events');
  let revision = last.streamRevision;
  let prevHash = last.metadata.hash;
  for (let seq = 1; seq <= count; ) {
    const batch: EventToAppend[] = [];
    for (; seq <= count && batch.length < 1000; seq += 1) {
      const clientMessageId = `fill-${seq}`;
      const data = { roomId, messageId: randomUUID(), seq, senderId: borrower, body: `message ${seq} of a long conversation`, clientMessageId, sentAt: new Date().toISOString() };
      const base = { actorId: borrower, correlationId: randomUUID(), causationId: randomUUID(), recordedAt: data.sentAt, hashVersion: HASH_VERSION };
      const eventId = sentMessageEventId(roomId, borrower, clientMessageId);
      const hash = eventHash(prevHash, { eventId, type: 'MessageSent', data, metadata: base });
      batch.push({ eventId, type: 'MessageSent', data, metadata: { ...base, prevHash, hash } });
      prevHash = hash;
    }
    const appended = await store.appendToStream(stream, batch, revision);
    revision = appended.nextExpectedRevision;
  }
}

async function measure(base: string, room: { roomId: string; borrower: string }, sends: number) {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/chat`, ['chat.v1', tokenFor(room.borrower)]);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const waiting = new Map<string, (value: void) => void>();
  socket.on('message', (raw) => {
    const frame = JSON.parse(raw.toString()) as { type: string; clientMessageId?: string; ref?: string };
    const id = frame.type === 'ack' ? frame.clientMessageId : frame.type === 'error' ? frame.ref : undefined;
    if (id !== undefined) waiting.get(id)?.();
  });
  const histogram = createHistogram();
  let first = 0;
  for (let i = 0; i < sends; i += 1) {
    const clientMessageId = randomUUID();
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      waiting.set(clientMessageId, resolve);
      socket.send(JSON.stringify({ type: 'send', roomId: room.roomId, clientMessageId, body: `timed ${i}` }));
    });
    const ms = performance.now() - t0;
    if (i === 0) first = ms;
    else histogram.record(Math.max(1, Math.round(ms * 1000)));
  }
  socket.close();
  return { firstMs: first, p50Ms: histogram.percentile(50) / 1000, p99Ms: histogram.percentile(99) / 1000 };
}

async function main(): Promise<void> {
  const messages = Number(args.messages);
  const store = await chooseStore(args.store === 'pglite' ? 'pglite' : 'postgres');
  let server: BenchServer | null = await startServer(store.env);
  try {
    const [long, fresh] = [await openRoom(server.url, 'long'), await openRoom(server.url, 'new')];
    await server.stop();
    server = null;
    const db = store.kind === 'postgres' ? new PgDatabase({ connectionString: store.url as string }) : await PgliteDatabase.open(store.env.DATA_DIR);
    const started = performance.now();
    await fill(new PostgresEventStore(db), long.roomId, long.borrower, messages);
    await db.close();
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
