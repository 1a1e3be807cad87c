import { migrateDatabase } from '../../../src/infrastructure/migrations';
import { randomUUID } from 'node:crypto';
import type { EventStore, ReadStreamOptions } from '../../../src/application/ports/eventStore';
import { randomIds } from '../../../src/application/ports/ids';
import { makeRoomCommands, type RoomCommands } from '../../../src/application/room/roomCommands';
import { RoomNotFoundError, roomStreamName } from '../../../src/domain/room';
import { verifyChain } from '../../../src/application/audit/hashChain';
import { SqlRoomDirectory } from '../../../src/infrastructure/readModels/sqlRoomDirectory';
import { SqlSnapshotStore } from '../../../src/infrastructure/snapshots/sqlSnapshotStore';
import { databaseKinds } from '../../support/databases';
import { actor, openRoomHarness, type RoomHarness } from '../../support/roomHarness';

/** The real store, counting the events each stream read hands back. */
function counting(inner: EventStore): EventStore & { eventsRead: number; reads: number } {
  const counter = Object.assign(Object.create(inner) as EventStore, {
    eventsRead: 0,
    reads: 0,
    readStream: async (streamId: string, options?: ReadStreamOptions) => {
      const events = await inner.readStream(streamId, options);
      counter.reads += 1;
      counter.eventsRead += events.length;
      return events;
    },
  });
  return counter;
}

describe.each(databaseKinds)('room state on %s: cached, snapshotted, and refused to strangers before any read', (kind) => {
  let l: RoomHarness;
  beforeAll(async () => {
    l = await openRoomHarness(kind);
    await migrateDatabase(l.db);
  });
  afterAll(async () => {
    await l.close();
  });

  const process = (eventStore: EventStore): RoomCommands =>
    makeRoomCommands({
      eventStore,
      clock: l.clock,
      ids: randomIds,
      directory: new SqlRoomDirectory(l.db),
      snapshots: { store: new SqlSnapshotStore(l.db), onError: (error) => { throw error; } },
    });

  it('sends in a long room without reading it again, and a process new to it reads its snapshot and a few events, deciding exactly as the first', async () => {
    const first = counting(l.store);
    const commands = process(first);
    const { postId, borrower } = await l.aPost();
    const { room } = await commands.openRoom(postId, borrower);
    for (let i = 0; i < 230; i += 1) await commands.sendMessage({ roomId: room.roomId, clientMessageId: `c-${i}`, body: `m${i}` }, borrower);
    // Cached: opening read the post's stream and the room's, once each; the 230 sends read nothing.
    expect(first.reads).toBeLessThanOrEqual(2);

    const cold = counting(l.store);
    const coldCommands = process(cold);
    const sent = await coldCommands.sendMessage({ roomId: room.roomId, clientMessageId: 'c-new', body: 'from a new process' }, borrower);
    expect(sent.message.seq).toBe(231);
    // The snapshot (taken every 100 events) and what came after it: far fewer than the 231 events.
    expect(cold.eventsRead).toBeLessThan(50);
    // A retry of a recent message is answered with the original, from the snapshot's recent messages.
    const retried = await coldCommands.sendMessage({ roomId: room.roomId, clientMessageId: 'c-229', body: 'again' }, borrower);
    expect(retried).toMatchObject({ created: false, message: { seq: 230, body: 'm229' } });
    expect(verifyChain(await l.events(room.roomId))).toBe(true);
  });

  it('ignores a snapshot that does not match its stream, and folds the events instead', async () => {
    const commands = process(l.store);
    const { postId, borrower } = await l.aPost();
    const { room } = await commands.openRoom(postId, borrower);
    for (let i = 0; i < 120; i += 1) await commands.sendMessage({ roomId: room.roomId, clientMessageId: `c-${i}`, body: `m${i}` }, borrower);
    const stream = roomStreamName(room.roomId);
    expect((await l.db.query(`SELECT 1 FROM stream_snapshots WHERE stream_id = $1`, [stream])).rows).toHaveLength(1);
    // A snapshot whose facts were tampered with, hash and all, would still be trusted: only its last hash is checked.
    await l.db.query(`UPDATE stream_snapshots SET last_hash = 'x', state = jsonb_set(state, '{lastSeq}', '5') WHERE stream_id = $1`, [stream]);

    const cold = counting(l.store);
    const sent = await process(cold).sendMessage({ roomId: room.roomId, clientMessageId: 'c-after', body: 'still right' }, borrower);
    expect(sent.message.seq).toBe(121);
    expect(cold.eventsRead).toBeGreaterThanOrEqual(121);
  });

  it('refuses a stranger from the read model without reading the room, whatever its length', async () => {
    const { roomId, borrower } = await l.anOpenRoom();
    for (let i = 0; i < 20; i += 1) await l.send(roomId, borrower);
    await l.settle();
    const cold = counting(l.store);
    const stranger = actor(`stranger-${randomUUID()}`);
    const commands = process(cold);
    await expect(commands.markRead(roomId, 1, stranger)).rejects.toBeInstanceOf(RoomNotFoundError);
    await expect(commands.sendMessage({ roomId, clientMessageId: 'x', body: 'hi' }, stranger)).rejects.toBeInstanceOf(RoomNotFoundError);
    expect(cold.reads).toBe(0);
  });

  it('decides on what is stored, not on a cached state another process has moved past', async () => {
    const here = process(l.store);
    const elsewhere = process(l.store);
    const { roomId, borrower, lender } = await (async () => {
      const post = await l.aPost();
      const opened = await here.openRoom(post.postId, post.borrower);
      return { roomId: opened.room.roomId, borrower: post.borrower, lender: post.lender };
    })();
    await here.sendMessage({ roomId, clientMessageId: 'c-1', body: 'one' }, borrower);
    // The other process writes seq 2; this one's cache still says the room ends at seq 1.
    await elsewhere.sendMessage({ roomId, clientMessageId: 'c-2', body: 'two' }, lender);
    // Marking seq 2 read would be refused on the cached state ("past the last message"): it is not.
    await expect(here.markRead(roomId, 2, borrower)).resolves.toMatchObject({ changed: true });
    const next = await here.sendMessage({ roomId, clientMessageId: 'c-3', body: 'three' }, borrower);
    expect(next.message.seq).toBe(3);
  });
});
