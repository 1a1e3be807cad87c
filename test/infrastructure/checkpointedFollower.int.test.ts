import { randomUUID } from 'node:crypto';
import type { EventStore, RecordedEvent } from '../../src/application/ports/eventStore';
import { silentLogger } from '../../src/application/ports/logger';
import { CheckpointedFollower } from '../../src/infrastructure/checkpointedFollower';
import { PostgresEventStore } from '../../src/infrastructure/eventStore/postgresEventStore';
import { migrateDatabase } from '../../src/infrastructure/migrations';
import type { SqlDatabase } from '../../src/infrastructure/sql/sqlDatabase';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../support/databases';
import { anEvent } from './eventStore/eventStoreContract';

/**
 * A follower applies each event once, in the transaction that moves its checkpoint, even
 * when something else (another process, or a rebuild in this one) moves the checkpoint
 * between the follower's read of it and its batch. On PGlite the batch is sent in one
 * go without reading the checkpoint again, so that case is caught by the move itself.
 */
describe.each(databaseKinds)('a checkpointed follower on %s', (kind) => {
  let testDb: TestDatabase;
  let db: SqlDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    db = await testDb.connect();
    await migrateDatabase(db);
    await db.query(`CREATE TABLE applied (event_id uuid PRIMARY KEY, follower text NOT NULL)`);
    store = new PostgresEventStore(db);
  });
  afterAll(async () => {
    await testDb.drop();
  });

  /** A follower that records each event it applies (a second application fails on the primary key). */
  const follower = (name: string, eventStore: EventStore, notifyChannel?: string) =>
    new CheckpointedFollower({
      name,
      label: 'test follower',
      lockKey: `test:${name}`,
      checkpoints: { table: 'notify_checkpoints', keyColumn: 'feeder' },
      db,
      eventStore,
      logger: silentLogger,
      applyBatch: async (tx, events) => {
        await tx.query(`INSERT INTO applied (event_id, follower) SELECT unnest($1::uuid[]), $2`, [events.map((e) => e.eventId), name]);
      },
      batchSize: 100,
      doorbell: 'off',
      ...(notifyChannel !== undefined ? { notifyChannel } : {}),
    });
  const appendThree = async (): Promise<string[]> => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    await store.appendToStream(`test-${randomUUID()}`, ids.map((eventId) => anEvent({ eventId })), 'no_stream');
    return ids;
  };
  const appliedBy = async (name: string) =>
    (await db.query<{ event_id: string }>(`SELECT event_id FROM applied WHERE follower = $1 ORDER BY event_id`, [name])).rows.map((r) => r.event_id);
  const storedCheckpoint = async (name: string) =>
    (await db.query<{ checkpoint: string }>(`SELECT checkpoint FROM notify_checkpoints WHERE feeder = $1`, [name])).rows[0]?.checkpoint ?? null;

  it('applies every event once and moves its checkpoint to the last, telling listeners where it is', async () => {
    const name = `f-${randomUUID()}`;
    const ids = await appendThree();
    let heard!: (payload: string) => void;
    const told = new Promise<string>((resolve) => (heard = resolve));
    const unlisten = await db.listen('test_follower_moved', (payload) => {
      if (payload !== '') heard(payload);
    });
    await follower(name, store, 'test_follower_moved').catchUp();
    await follower(name, store, 'test_follower_moved').catchUp();
    const head = await store.headCheckpoint();
    expect(await storedCheckpoint(name)).toBe(head);
    expect(await appliedBy(name)).toEqual(expect.arrayContaining(ids));
    expect(await told).toBe(head);
    await unlisten();
  });

  it('applies only what is left when the checkpoint moved between its read and its batch', async () => {
    const name = `f-${randomUUID()}`;
    // Everything up to here was applied by someone else already.
    const before = await store.headCheckpoint();
    await db.query(`INSERT INTO notify_checkpoints (feeder, checkpoint) VALUES ($1, $2)`, [name, before]);
    const [first, second, third] = await appendThree();
    const all = await store.readAll(before, 100);
    // Right after the follower has read the events, another applier takes the first two
    // (and moves the checkpoint past them), as a rebuild or another process would.
    let overtaken = false;
    const overtakingStore: EventStore = Object.assign(Object.create(store) as EventStore, {
      readAll: async (after: string | null, maxCount: number): Promise<RecordedEvent[]> => {
        const events = await store.readAll(after, maxCount);
        if (!overtaken) {
          overtaken = true;
          await db.transaction(async (tx) => {
            await tx.query(`INSERT INTO applied (event_id, follower) VALUES ($1, $3), ($2, $3)`, [first, second, name]);
            await tx.query(`UPDATE notify_checkpoints SET checkpoint = $2 WHERE feeder = $1`, [name, all[1]?.checkpoint]);
          });
        }
        return events;
      },
    });
    await follower(name, overtakingStore).catchUp();
    expect(overtaken).toBe(true);
    expect(await appliedBy(name)).toEqual([first, second, third].sort());
    expect(await storedCheckpoint(name)).toBe(all[2]?.checkpoint);
  });
});
