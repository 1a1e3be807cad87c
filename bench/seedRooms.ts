/**
 * Rooms for the benchmarks that need history: opened through the API, then filled with
 * messages written straight into the event store (the same events, hash chain and all,
 * the service writes), far faster than sending them. The server must be stopped while
 * a room is filled, so nothing of it is cached.
 */
import { randomUUID } from 'node:crypto';
import { eventHash, HASH_VERSION } from '../src/application/audit/hashChain';
import type { EventToAppend } from '../src/application/ports/eventStore';
import { sentMessageEventId } from '../src/application/room/sentMessageEventId';
import { roomStreamName } from '../src/domain/room';
import { PostgresEventStore } from '../src/infrastructure/eventStore/postgresEventStore';
import { PgDatabase } from '../src/infrastructure/sql/pgDatabase';
import { PgliteDatabase } from '../src/infrastructure/sql/pgliteDatabase';
import { INTERNAL_TOKEN, request, tokenFor, type BenchStore } from './support';

export interface BenchRoom {
  roomId: string;
  lender: string;
  borrower: string;
}

/** A new post by a new lender, and the room a new borrower opens on it. */
export async function openRoom(base: string, label: string): Promise<BenchRoom> {
  const postId = `${label}-${randomUUID().slice(0, 8)}`;
  const lender = `lender-${postId}`;
  const borrower = `borrower-${postId}`;
  await request(`${base}/api/internal/posts/${postId}`, 'PUT', INTERNAL_TOKEN, { ownerId: lender, title: 'Item' });
  const opened = await request(`${base}/api/rooms`, 'POST', tokenFor(borrower), { postId });
  if (opened.status !== 201 && opened.status !== 200) throw new Error(`opening a room answered ${opened.status}`);
  return { roomId: (opened.json as { room: { roomId: string } }).room.roomId, lender, borrower };
}

/** Writes `count` messages from the borrower into the room, in batches of 1,000. */
export async function fillRoom(store: BenchStore, room: BenchRoom, count: number): Promise<void> {
  const db = store.kind === 'postgres' ? new PgDatabase({ connectionString: store.url as string }) : await PgliteDatabase.open(store.env.DATA_DIR as string);
  try {
    const events = new PostgresEventStore(db);
    const stream = roomStreamName(room.roomId);
    const [last] = (await events.readStream(stream)).slice(-1);
    if (last === undefined) throw new Error('the room has no events');
    let revision = last.streamRevision;
    let prevHash = last.metadata.hash;
    for (let seq = 1; seq <= count; ) {
      const batch: EventToAppend[] = [];
      for (; seq <= count && batch.length < 1000; seq += 1) {
        const clientMessageId = `fill-${seq}`;
        const data = { roomId: room.roomId, messageId: randomUUID(), seq, senderId: room.borrower, body: `message ${seq} of a long conversation`, clientMessageId, sentAt: new Date().toISOString() };
        const base = { actorId: room.borrower, correlationId: randomUUID(), causationId: randomUUID(), recordedAt: data.sentAt, hashVersion: HASH_VERSION };
        const eventId = sentMessageEventId(room.roomId, room.borrower, clientMessageId);
        const hash = eventHash(prevHash, { eventId, type: 'MessageSent', data, metadata: base });
        batch.push({ eventId, type: 'MessageSent', data, metadata: { ...base, prevHash, hash } });
        prevHash = hash;
      }
      const appended = await events.appendToStream(stream, batch, revision);
      revision = appended.nextExpectedRevision;
    }
  } finally {
    await db.close();
  }
}
