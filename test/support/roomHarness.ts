import { migrateDatabase } from '../../src/infrastructure/migrations';
import { randomUUID } from 'node:crypto';
import { WrongExpectedRevisionError, type EventStore, type RecordedEvent } from '../../src/application/ports/eventStore';
import { randomIds } from '../../src/application/ports/ids';
import { silentLogger } from '../../src/application/ports/logger';
import { makePostCommands } from '../../src/application/post/postCommands';
import { makeRoomCommands, type Actor, type RoomCommands } from '../../src/application/room/roomCommands';
import { sweepExpiredRooms, type SweepResult } from '../../src/application/room/sweepExpiredRooms';
import { roomStreamName } from '../../src/domain/room';
import { PostgresEventStore } from '../../src/infrastructure/eventStore/postgresEventStore';
import { chatProjection } from '../../src/infrastructure/readModels/chatProjection';
import { ProjectionRunner } from '../../src/infrastructure/readModels/projectionRunner';
import { SqlChatQueries } from '../../src/infrastructure/readModels/sqlChatQueries';
import type { SqlDatabase } from '../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './databases';
import { ManualClock } from './server';
import { DAY, HOUR } from './time';

/** The TTLs these suites run with: the contract's defaults. */
export const ttl = { emptyTtlMs: HOUR, idleTtlMs: 30 * DAY };

/**
 * The write and read side of one process over a real database, with a clock the test
 * moves: the room commands, the projection into the read models, and the queries.
 */
export interface RoomHarness {
  tdb: TestDatabase;
  db: SqlDatabase;
  store: PostgresEventStore;
  clock: ManualClock;
  commands: RoomCommands;
  queries: SqlChatQueries;
  projections: ProjectionRunner;
  /** A post with a fresh id and owner, and a fresh borrower to chat on it. */
  aPost(): Promise<{ postId: string; lender: Actor; borrower: Actor }>;
  /** A fresh post and its room, opened by its borrower now. */
  anOpenRoom(): Promise<{ roomId: string; postId: string; lender: Actor; borrower: Actor }>;
  send(roomId: string, sender: Actor, body?: string): ReturnType<RoomCommands['sendMessage']>;
  sweep(options?: { pageSize?: number; commands?: RoomCommands }): Promise<SweepResult>;
  /** Waits until the read models hold everything appended so far through this harness. */
  settle(): Promise<void>;
  /** Appends refused for a stale expected revision (each one retried by the command handler). */
  conflicts: number;
  /** Room commands over another store (another process's connections), tracked by `settle` too. */
  commandsOver(eventStore: EventStore): RoomCommands;
  events(roomId: string): Promise<RecordedEvent[]>;
  types(roomId: string): Promise<string[]>;
  close(): Promise<void>;
}

export const actor = (userId: string): Actor => ({ userId, correlationId: randomUUID() });

export async function openRoomHarness(kind: DatabaseKind): Promise<RoomHarness> {
  const tdb = await createTestDatabase(kind);
  const db = await tdb.connect();
  await migrateDatabase(db);
  const store = new PostgresEventStore(db, { pollIntervalMs: 50 });
  const projections = new ProjectionRunner({
    projection: chatProjection,
    db,
    eventStore: store,
    logger: silentLogger,
    pollIntervalMs: 100,
  });
  await projections.start();
  const clock = new ManualClock();
  // The newest checkpoint any append here has returned: what `settle` waits for. (The store's
  // head is only what is safe to read *now*, which an unrelated transaction can hold back.)
  let latest: string | null = null;
  const tracked = (inner: EventStore): EventStore =>
    Object.assign(Object.create(inner) as EventStore, {
      appendToStream: async (...args: Parameters<EventStore['appendToStream']>) => {
        const appended = await inner.appendToStream(...args).catch((error: unknown) => {
          if (error instanceof WrongExpectedRevisionError) harness.conflicts += 1;
          throw error;
        });
        if (latest === null || appended.checkpoint > latest) latest = appended.checkpoint;
        return appended;
      },
    });
  const commandsOver = (eventStore: EventStore) => makeRoomCommands({ eventStore: tracked(eventStore), clock, ids: randomIds });
  const commands = commandsOver(store);
  const posts = makePostCommands({ eventStore: tracked(store), clock, ids: randomIds });
  const queries = new SqlChatQueries(db);

  const harness: RoomHarness = {
    tdb,
    db,
    store,
    clock,
    commands,
    queries,
    projections,
    conflicts: 0,
    async aPost() {
      const postId = `post-${randomUUID()}`;
      const lender = actor(`lender-${randomUUID()}`);
      const borrower = actor(`borrower-${randomUUID()}`);
      await posts.upsertPost({ postId, ownerId: lender.userId, title: 'Cordless drill' }, randomUUID());
      return { postId, lender, borrower };
    },
    async anOpenRoom() {
      const post = await harness.aPost();
      const opened = await commands.openRoom(post.postId, post.borrower);
      return { roomId: opened.room.roomId, ...post };
    },
    send: (roomId, sender, body = `hello ${randomUUID()}`) =>
      commands.sendMessage({ roomId, clientMessageId: randomUUID(), body }, sender),
    sweep: (options = {}) =>
      sweepExpiredRooms(
        { queries, commands: options.commands ?? commands, clock, ids: randomIds, logger: silentLogger },
        { ttl, ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}) },
      ),
    async settle() {
      if (latest !== null) expect(await projections.waitFor(latest, 10_000)).toBe(true);
    },
    commandsOver,
    events: (roomId) => store.readStream(roomStreamName(roomId)),
    types: async (roomId) => (await store.readStream(roomStreamName(roomId))).map((e) => e.type),
    async close() {
      await projections.stop();
      await tdb.drop();
    },
  };
  return harness;
}
